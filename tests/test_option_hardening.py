"""Option files that attack or trip the parser: alias bombs, huge files, names that would escape the result folder,
and value combinations that used to pass parsing and fail later with a raw traceback."""
import time
from pathlib import Path

import pytest

from basicsr.test import test_pipeline as evaluate
from basicsr.config import load as options_module
from basicsr.utils.errors import OptionError
from basicsr.utils.options import parse_options

from conftest import make_pairs, tiny_train_options, write_yaml

BILLION_LAUGHS = '\n'.join(['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'] + [
    f'{chr(98 + i)}: &{chr(98 + i)} [' + ', '.join([f'*{chr(97 + i)}'] * 9) + ']' for i in range(8)])


def test_a_billion_laughs_mapping_is_refused_quickly(tmp_path):
    path = tmp_path / 'laughs.yml'
    path.write_text('name: x\nmodel_type: SRModel\n' + BILLION_LAUGHS + '\n')
    start = time.perf_counter()
    with pytest.raises(OptionError, match=r'laughs\.yml: expands to more than 100,000 values through YAML '
                                          r'aliases'):
        parse_options(path)
    assert time.perf_counter() - start < 2


def test_a_sequence_bomb_inside_io_backend_is_refused(tmp_path):
    opt_text = write_yaml(tmp_path / 'plain.yml', tiny_train_options(tmp_path)).read_text()
    bomb = ''.join(f'x{i}: &x{i} [' + ', '.join([f'*x{i - 1}' if i else '0'] * 10) + ']\n' for i in range(7))
    text = bomb + opt_text.replace('type: disk', 'type: disk\n      extra: *x6', 1)
    path = tmp_path / 'bomb.yml'
    path.write_text(text)
    with pytest.raises(OptionError, match='expands to more than'):
        parse_options(path)


def test_an_option_file_over_the_size_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(options_module, 'MAX_OPTION_FILE_BYTES', 1000)
    path = tmp_path / 'big.yml'
    path.write_text('name: x\n' + '# padding\n' * 200)
    with pytest.raises(OptionError, match=r'big\.yml: the option file is larger than 1,000 bytes, the limit'):
        parse_options(path)


def test_a_dataset_name_cannot_lead_test_results_outside_the_project(tmp_path):
    lq, _ = make_pairs(tmp_path / 'data', count=1, size=(16, 16))
    opt = {'name': 'safe', 'model_type': 'SRModel', 'num_gpu': 0, 'path': {'root': str(tmp_path / 'project')},
           'network_g': {'type': 'MSRResNet', 'num_feat': 4, 'num_block': 1},
           'datasets': {'test_1': {'name': 'ok', 'type': 'SingleImageDataset', 'dataroot_lq': str(lq),
                                   'io_backend': {'type': 'disk'}}},
           'val': {'save_img': True}}
    path = write_yaml(tmp_path / 'test.yml', opt)
    with pytest.raises(OptionError, match=r"datasets\.test_1\.name: must be a plain name .*, "
                                          r"got '\.\./\.\./\.\./\.\./x'"):
        evaluate(argv=['-opt', str(path), '--force_yml', 'datasets:test_1:name=../../../../x'])
    assert not (tmp_path / 'project').exists() and not any(Path('/').glob('x/*_safe.png'))


@pytest.mark.parametrize('updates, expected', [
    ({'network_g': {'type': 'MSRResNet', 'num_feat': 8, 'num_block': 1, 'upscale': 2}},
     r'network_g\.upscale: is 2 but the root scale \(of the data\) is 4'),
    ({'network_g': {'type': 'MSRResNet', 'num_in_ch': 1, 'num_feat': 8, 'num_block': 1, 'upscale': 4}},
     r"network_g\.num_in_ch: is 1 but the datasets give 3-channel images"),
    ({'train__scheduler': {'type': 'CosineAnnealingRestartLR', 'periods': [10], 'restart_weights': [1, 1]}},
     r'train\.scheduler\.restart_weights: has 2 entries but periods has 1; they must pair up'),
    ({'train__optim_g': {'type': 'Adam', 'lr': 1e-3, 'betas': [2, 3]}},
     r'train\.optim_g\.betas: must be numbers in \[0, 1\), got \[2\.0, 3\.0\]'),
    ({'train__optim_g': {'type': 'Adam', 'lr': float('inf')}}, r'train\.optim_g\.lr: must be a finite number'),
    ({'train__pixel_opt': {'type': 'L1Loss', 'loss_weight': float('inf')}},
     r'train\.pixel_opt\.loss_weight: must be a finite number'),
    ({'train__scheduler': {'type': 'CosineAnnealingRestartLR', 'periods': [10], 'eta_min': -1e-7}},
     r'train\.scheduler\.eta_min: must be >= 0'),
])
def test_cross_field_and_range_mistakes_are_stopped_at_parse_time(tmp_path, updates, expected):
    opt = tiny_train_options(tmp_path, **{k: v for k, v in updates.items() if '__' in k})
    opt.update({k: v for k, v in updates.items() if '__' not in k})
    path = write_yaml(tmp_path / 'cross.yml', opt)
    with pytest.raises(OptionError, match=r'cross\.yml, line \d+: ' + expected):
        parse_options(path)
