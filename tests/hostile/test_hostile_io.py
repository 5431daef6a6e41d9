"""Hostile input (issue 26): I/O errors while writing images are one line and leave no partial file; names that
become folder names are bounded."""
import errno
import os
import resource
import signal

import numpy as np
import pytest

from basicsr.utils import checkpoint
from basicsr.utils.errors import BasicSRError, OptionError
from basicsr.utils.img_util import imread, imwrite
from basicsr.utils.options import parse_options
from conftest import simulate_full_disk, tiny_train_options, write_yaml

NOISE = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # ~12 KB as PNG


def test_disk_full_while_saving_an_image_is_one_line_and_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / 'visualization' / 'img01_100.png'
    imwrite(NOISE[:8, :8], target)
    simulate_full_disk(monkeypatch, partial=True)
    with pytest.raises(BasicSRError) as info:
        imwrite(NOISE, target)
    message = str(info.value)
    assert str(target) in message and 'No space left on device' in message and '\n' not in message
    monkeypatch.undo()
    assert sorted(p.name for p in target.parent.iterdir()) == ['img01_100.png']  # no temporary file
    assert imread(target).shape == (8, 8, 3)  # the previous image, whole


def test_file_size_limit_while_saving_an_image_leaves_nothing(tmp_path):
    """A real failing write (EFBIG from RLIMIT_FSIZE, the kernel's refusal as for a full disk)."""
    target = tmp_path / 'out.png'
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(BasicSRError) as info:
            imwrite(NOISE, target)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert str(target) in str(info.value) and '\n' not in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('name', ['x' * 300, 'é' * 60])
def test_a_name_too_long_for_a_folder_is_an_option_error(tmp_path, name):
    path = write_yaml(tmp_path / 'opt.yml', tiny_train_options(tmp_path, name=name))
    with pytest.raises(OptionError, match=r'name: must be a plain name of at most 100 bytes'):
        parse_options(path)
    assert not (tmp_path / 'experiments').exists()


def test_disk_full_while_validation_saves_an_image_stops_the_run_in_one_line(tmp_path, monkeypatch):
    """Through the training pipeline: one error line (the entry point logs it and exits with status 1); no
    partial PNG is left, and the checkpoint written before validation is intact."""
    from basicsr.train import train_pipeline
    real_mkstemp, real_fdopen, png_fds = checkpoint.tempfile.mkstemp, os.fdopen, set()

    def mkstemp(*args, prefix='', **kwargs):
        fd, name = real_mkstemp(*args, prefix=prefix, **kwargs)
        if prefix.endswith('.png.'):
            png_fds.add(fd)
        return fd, name

    def fdopen(fd, mode):
        file = real_fdopen(fd, mode)
        if fd in png_fds:
            file.write = lambda data: (_ for _ in ()).throw(OSError(errno.ENOSPC, 'No space left on device'))
        return file

    path = write_yaml(tmp_path / 'opt.yml', tiny_train_options(tmp_path))  # its images written before the fault
    monkeypatch.setattr(checkpoint.tempfile, 'mkstemp', mkstemp)
    monkeypatch.setattr(checkpoint.os, 'fdopen', fdopen)
    with pytest.raises(BasicSRError) as info:
        train_pipeline(root_path=str(tmp_path), argv=['-opt', str(path)])
    message = str(info.value)
    assert 'No space left on device' in message and '.png' in message and '\n' not in message
    experiment = tmp_path / 'experiments' / 'tiny'
    assert list((experiment / 'visualization').rglob('*.png')) == []
    assert not [p for p in experiment.rglob('*') if p.name.endswith('.tmp')]
    assert (experiment / 'models' / 'net_g_3.pth').is_file()


def test_two_images_of_one_name_in_different_subfolders_stay_apart(tmp_path):
    """Issue 26 (c): nested folders holding img.png twice give two table rows and two saved images."""
    from basicsr.test import test_pipeline
    from basicsr.utils.img_util import imwrite
    from conftest import synthetic_image
    from basicsr.data.transforms import bicubic_downscale_uint8
    for sub, seed in (('a', 1), ('b', 2)):
        hr = synthetic_image(seed, 32, 32)
        imwrite(hr, tmp_path / 'hr' / sub / 'img.png')
        imwrite(bicubic_downscale_uint8(hr, 4), tmp_path / 'lr' / sub / 'img.png')
    opt = {'name': 'dup', 'model_type': 'SRModel', 'num_gpu': 0, 'path': {'root': str(tmp_path)},
           'network_g': {'type': 'MSRResNet', 'num_feat': 4, 'num_block': 1},
           'datasets': {'test_1': {'name': 'nested', 'type': 'PairedImageDataset', 'io_backend': {'type': 'disk'},
                                   'dataroot_gt': str(tmp_path / 'hr'), 'dataroot_lq': str(tmp_path / 'lr')}},
           'val': {'save_img': True, 'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 4}}}}
    results = test_pipeline(argv=['-opt', str(write_yaml(tmp_path / 't.yml', opt))])
    assert sorted(results['nested']) == ['a/img', 'b/img']
    saved = sorted(p.relative_to(tmp_path / 'results' / 'dup' / 'visualization' / 'nested').as_posix()
                   for p in (tmp_path / 'results' / 'dup' / 'visualization').rglob('*.png'))
    assert saved == ['a/img_dup.png', 'b/img_dup.png']


def test_disk_full_while_saving_the_options_is_one_line_and_leaves_no_partial_file(tmp_path, monkeypatch):
    from basicsr.config import parse_options, save_options
    from basicsr.utils.errors import CheckpointError
    opt = parse_options(write_yaml(tmp_path / 'o.yml', tiny_train_options(tmp_path)))
    target = tmp_path / 'exp' / 'options.yml'
    simulate_full_disk(monkeypatch, partial=True)
    with pytest.raises(CheckpointError, match=r'options\.yml: cannot write the file \(No space left on device\)'):
        save_options(opt, target)
    assert not target.exists() and not list(target.parent.glob('.options.yml.*'))
