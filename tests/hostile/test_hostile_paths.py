"""Hostile input (issue 26): file lists and folders from the options that lead outside their data roots, or are not
what they claim to be, are one clear error and nothing is read or written outside."""
from pathlib import Path

import pytest

from basicsr.data.demo_data import prepare_demo_data
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.realesrgan_dataset import RealESRGANDataset
from basicsr.data.realesrgan_paired_dataset import RealESRGANPairedDataset
from basicsr.utils.errors import DataError, OptionError
from basicsr.utils.options import parse_options
from basicsr.utils.path_policy import inside
from conftest import make_pairs, tiny_train_options, write_yaml


@pytest.fixture
def data(tmp_path) -> tuple[Path, Path, Path]:
    """A data root with one pair, and a secret image beside (outside) it."""
    gt, lq = make_pairs(tmp_path / 'root', count=1, size=(32, 32))
    secret = tmp_path / 'secret.png'
    secret.write_bytes((gt / 'img00.png').read_bytes())
    return gt, lq, secret


@pytest.mark.parametrize('entry', ['../../secret.png', '{secret}', 'sub/../../../secret.png'])
def test_meta_info_entries_may_not_leave_the_data_root(tmp_path, data, entry):
    gt, lq, secret = data
    meta = tmp_path / 'meta.txt'
    meta.write_text(f"img00.png (32,32,3)\n{entry.format(secret=secret)} (32,32,3)\n")
    for build in (lambda: PairedImageDataset(str(gt), str(lq), meta_info_file=str(meta), phase='val'),
                  lambda: RealESRGANDataset(str(gt), meta_info=str(meta), crop_pad_size=32)):
        with pytest.raises(DataError, match=rf'{meta}, line 2: .* leads outside {gt}') as info:
            build()
        assert '\n' not in str(info.value)


def test_pair_list_entries_may_not_leave_their_roots(tmp_path, data):
    gt, lq, secret = data
    meta = tmp_path / 'pairs.txt'
    meta.write_text(f'img00.png, img00.png\nimg00.png, {secret}\n')
    with pytest.raises(DataError, match=rf'{meta}, line 2: .* leads outside {lq}'):
        RealESRGANPairedDataset(str(gt), str(lq), meta_info=str(meta), phase='val')


def test_the_policy_accepts_plain_relative_paths_only(tmp_path):
    assert inside(tmp_path, 'a/./b/../c.png', 'list') == tmp_path / 'a/./b/../c.png'
    for bad in ('', '/etc/passwd', '..', 'a/../../b', '..\\b'):
        with pytest.raises(DataError, match='leads outside'):
            inside(tmp_path, bad, 'list')


def test_a_meta_info_file_that_is_not_text_is_one_line_naming_it(tmp_path, data):
    gt, lq, _ = data
    meta = tmp_path / 'meta.txt'
    meta.write_bytes(b'img00.png\n\xff\xfe\x00binary')
    with pytest.raises(DataError, match=rf'{meta}: not a UTF-8 text file') as info:
        PairedImageDataset(str(gt), str(lq), meta_info_file=str(meta), phase='val')
    assert '\n' not in str(info.value)


def test_a_system_folder_as_dataroot_is_one_line():
    if not Path('/proc/self').is_dir():
        pytest.skip('no /proc')
    with pytest.raises(DataError, match='/proc') as info:
        PairedImageDataset('/proc', None, phase='val')
    assert '\n' not in str(info.value)


def test_demo_data_outside_the_root_is_an_option_error(tmp_path):
    path = write_yaml(tmp_path / 'opt.yml', tiny_train_options(tmp_path, prepare_demo_data='../demo'))
    with pytest.raises(OptionError, match=r'prepare_demo_data: must stay inside the root folder'):
        parse_options(path)
    assert not (tmp_path.parent / 'demo').exists()


def test_demo_data_at_a_file_is_one_line_and_the_file_is_kept(tmp_path):
    target = tmp_path / 'demo'
    target.write_text('mine')
    with pytest.raises(DataError, match=rf'{target}: prepare_demo_data names a file') as info:
        prepare_demo_data(target)
    assert '\n' not in str(info.value) and target.read_text() == 'mine'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['demo']
