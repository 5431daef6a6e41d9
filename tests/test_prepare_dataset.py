"""scripts/prepare_dataset.py: photos of odd sizes become aligned pairs and an option file that trains; input that
would give nothing is refused with the reason. Also the sub-image and pair-size checks it relies on."""
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import synthetic_image, tiny_train_options, train, write_yaml
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.transforms import bicubic_downscale_uint8
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import imread, imwrite

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'scripts'))
import extract_subimages  # noqa: E402
import prepare_dataset  # noqa: E402

ODD_SIZES = [(37, 50), (61, 45), (49, 66), (43, 58), (53, 71)]  # (height, width): none a multiple of 4


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    for i, (h, w) in enumerate(ODD_SIZES):
        imwrite(synthetic_image(i, h, w), tmp_path / 'photos' / f'photo{i}.png')
    return tmp_path / 'photos'


def test_odd_sizes_give_aligned_pairs_and_an_option_file_that_trains(tmp_path, photos, capsys):
    base = write_yaml(tmp_path / 'base.yml', tiny_train_options(tmp_path / 'base_data'))
    out, options = tmp_path / 'datasets' / 'mine', tmp_path / 'train_mine.yml'
    assert prepare_dataset.main(['--hr', str(photos), '--scale', '4', '--out', str(out), '--val-split', '1',
                                 '--sub-images', '--n-thread', '1', '--write-options', str(options),
                                 '--base', str(base)]) == 0
    crop = 36  # the shortest side, 37, floored to a multiple of 4: every training image gives sub-images
    hr_subs = sorted((out / 'train' / 'HR_sub').glob('*.png'))
    names = (out / 'meta_info_train.txt').read_text().split()
    assert [p.name for p in hr_subs] == names and len(names) > len(ODD_SIZES)
    for hr_path in hr_subs:
        hr, lr = imread(hr_path), imread(out / 'train' / 'LR_bicubic_sub' / 'X4' / hr_path.name)
        assert hr.shape == (crop, crop, 3) and lr.shape == (crop // 4, crop // 4, 3)
        # the LR sub-image is the HR sub-image downscaled (away from the border, where the kernel saw more)
        diff = np.abs(bicubic_downscale_uint8(hr, 4).astype(int) - lr.astype(int))[2:-2, 2:-2]
        assert diff.max() <= 1, hr_path.name
    for folder in ('train', 'val'):
        for hr_path in (out / folder / 'HR').glob('*.png'):
            hr, lr = imread(hr_path), imread(out / folder / 'LR_bicubic' / 'X4' / hr_path.name)
            assert hr.shape[0] % 4 == 0 and hr.shape[:2] == (lr.shape[0] * 4, lr.shape[1] * 4)
    assert len(list((out / 'val' / 'HR').glob('*.png'))) == 1
    opt = yaml.safe_load(options.read_text())
    assert opt['datasets']['train']['dataroot_gt'] == str(out / 'train' / 'HR_sub')
    assert opt['datasets']['train']['gt_size'] == crop
    assert opt['scale'] == opt['network_g']['upscale'] == opt['val']['metrics']['psnr']['crop_border'] == 4
    exp, log = train(tmp_path / 'base_data', options, 'train:total_iter=2', 'logger:save_checkpoint_freq=2')
    assert (exp / 'models' / 'net_g_2.pth').is_file()
    assert 'Validation mine_val' in log


def test_lmdb_and_printed_option_lines(tmp_path, photos, capsys):
    out = tmp_path / 'mine'
    prepare_dataset.main(['--hr', str(photos), '--scale', '4', '--out', str(out), '--val-split', '0', '--lmdb',
                          '--n-thread', '1'])
    printed = capsys.readouterr().out
    section = yaml.safe_load(printed.split('\n\n', 1)[1])
    train_opt = section['datasets']['train']
    assert section['scale'] == 4 and 'val' not in section['datasets']
    assert train_opt['io_backend'] == {'type': 'lmdb'} and train_opt['dataroot_gt'].endswith('HR.lmdb')
    dataset = PairedImageDataset({**train_opt, 'phase': 'train', 'scale': 4})
    sample = dataset[0]
    assert len(dataset) == len(ODD_SIZES)
    assert sample['gt'].shape[-1] == 4 * sample['lq'].shape[-1] == train_opt['gt_size'] == 36


def test_the_option_file_follows_the_scale(tmp_path, photos):
    options = tmp_path / 'x2.yml'
    prepare_dataset.main(['--hr', str(photos), '--scale', '2', '--out', str(tmp_path / 'x2'), '--n-thread', '1',
                          '--write-options', str(options)])  # the demo file (x4) as the base
    opt = yaml.safe_load(options.read_text())
    assert opt['scale'] == opt['network_g']['upscale'] == 2
    assert {m['crop_border'] for m in opt['val']['metrics'].values()} == {2}
    assert opt['datasets']['val']['dataroot_lq'].endswith('LR_bicubic/X2') and 'prepare_demo_data' not in opt


def test_refuses_a_crop_size_larger_than_every_image(tmp_path, photos):
    out = tmp_path / 'mine'
    with pytest.raises(SystemExit, match=r'--crop-size 200: larger than every training image .*use --crop-size 52'):
        prepare_dataset.main(['--hr', str(photos), '--scale', '4', '--out', str(out), '--crop-size', '200',
                              '--val-split', '0', '--n-thread', '1'])
    assert not out.exists()
    with pytest.raises(SystemExit, match='--crop-size 30: must be a positive multiple of --scale 4'):
        prepare_dataset.main(['--hr', str(photos), '--scale', '4', '--out', str(out), '--crop-size', '30'])


def test_extract_subimages_fails_when_no_image_holds_a_crop(tmp_path):
    imwrite(synthetic_image(0, 21, 33), tmp_path / 'in' / 'wide.png')  # 481x321 against 480, in small
    with pytest.raises(SystemExit, match=r'--crop-size 24: larger than every image .*33x21.*--crop-size 21'):
        extract_subimages.main(['--input', str(tmp_path / 'in'), '--output', str(tmp_path / 'out'),
                                '--crop-size', '24', '--n-thread', '1'])
    assert not (tmp_path / 'out').exists()


def test_a_pair_that_does_not_line_up_is_named_with_the_cause(tmp_path):
    imwrite(synthetic_image(0, 48, 48), tmp_path / 'gt' / 'a.png')
    imwrite(synthetic_image(0, 10, 12), tmp_path / 'lq' / 'a.png')  # x4 would be 40x48, not 48x48
    dataset = PairedImageDataset({'dataroot_gt': str(tmp_path / 'gt'), 'dataroot_lq': str(tmp_path / 'lq'),
                                  'phase': 'val', 'scale': 4})
    with pytest.raises(DataError, match=r'a\.png \(48x48\) and .*a\.png \(12x10\) are not a x4 pair .*grids'):
        dataset[0]
