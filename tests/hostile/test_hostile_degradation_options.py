"""Hostile input (issue 26): every Real-ESRGAN/BSRGAN degradation option has its range, checked when the option file
is parsed (before anything is built, allocated or trained)."""
import pytest

from basicsr.data.realesrgan_dataset import RealESRGANDataset
from basicsr.utils.errors import OptionError
from basicsr.utils.options import parse_options
from conftest import write_yaml
from test_realesrgan_recipes import recipe_options

DATASET_CASES = [  # issue 26: LinAlgError, hangs, gigabytes, or accepted silently
    ('blur_sigma', [0, 0], r'blur_sigma: must be \[low, high\] with 0 < low'),
    ('blur_sigma2', [-1, 2], r'blur_sigma2: must be \[low, high\] with 0 < low'),
    ('betag_range', [0, 0], r'betag_range: must be \[low, high\] with 0 < low'),
    ('betap_range2', [1, 50], r'betap_range2: .* <= 10'),
    ('blur_kernel_size', 4001, r'blur_kernel_size: must be an odd number from 3 to 41'),
    ('blur_kernel_size2', 1, r'blur_kernel_size2: must be an odd number from 3 to 41'),
    ('crop_pad_size', 20000, r'crop_pad_size: must be from 1 to 2048'),
    ('sinc_prob', -1, r'sinc_prob: must be a probability'),
    ('final_sinc_prob', 7, r'final_sinc_prob: must be a probability'),
]
ROOT_CASES = [
    ('resize_range', [0, 0], r'resize_range: must be \[low, high\] with 0 < low'),
    ('resize_range2', [50, 100], r'resize_range2: .* <= 4'),
    ('noise_range', [1, 10000], r'noise_range: .* <= 255'),
    ('poisson_scale_range2', [-1, 2], r'poisson_scale_range2: must be \[low, high\] with 0 <= low'),
]


@pytest.mark.parametrize('key, value, expected', DATASET_CASES + ROOT_CASES)
def test_out_of_range_degradation_options_fail_at_parse_time(tmp_path, key, value, expected):
    opt = recipe_options(tmp_path)
    if key in dict((k, v) for k, v, _ in DATASET_CASES):
        opt['datasets']['train'][key] = value
    else:
        opt[key] = value
    with pytest.raises(OptionError, match=expected):
        parse_options(write_yaml(tmp_path / 'opt.yml', opt), root_path=tmp_path)
    assert not (tmp_path / 'experiments').exists()


def test_bsrgan_noise_range_is_bounded(tmp_path):
    opt = recipe_options(tmp_path, degradation='bsrgan', bsrgan={'noise_range': [2, 5000]})
    with pytest.raises(OptionError, match=r'bsrgan\.noise_range: .* <= 255'):
        parse_options(write_yaml(tmp_path / 'opt.yml', opt), root_path=tmp_path)


def test_a_dataset_made_in_code_gets_the_same_ranges(tmp_path):
    with pytest.raises(OptionError, match=r'blur_sigma: must be \[low, high\] with 0 < low'):
        RealESRGANDataset(str(tmp_path), blur_sigma=[0, 0])


def test_the_published_values_are_inside_the_ranges(tmp_path):
    opt = parse_options(write_yaml(tmp_path / 'opt.yml', recipe_options(tmp_path)), root_path=tmp_path)
    assert opt['resize_range'] == [0.15, 1.5] and opt['datasets']['train']['crop_pad_size'] == 64
