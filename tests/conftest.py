"""Shared fixtures: tiny synthetic image folders and option files, so tests need no external data."""
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from basicsr.data.transforms import bicubic_downscale_uint8
from basicsr.train import train_pipeline
from basicsr.utils.img_util import imread, imwrite
from basicsr.utils.logger import get_root_logger

ROOT = Path(__file__).resolve().parents[1]


def synthetic_image(seed: int, height: int, width: int) -> np.ndarray:
    """A uint8 BGR image with smooth gradients, edges and texture (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width, 3), np.float32)
    for c in range(3):
        fx, fy, phase = rng.uniform(0.02, 0.2), rng.uniform(0.02, 0.2), rng.uniform(0, 6.28)
        img[..., c] = 0.5 + 0.3 * np.sin(fx * xx + phase) * np.cos(fy * yy)
    for _ in range(4):  # rectangles give sharp edges
        y0, x0 = rng.integers(0, height - 4), rng.integers(0, width - 4)
        img[y0:y0 + rng.integers(4, height // 2), x0:x0 + rng.integers(4, width // 2)] = rng.uniform(0, 1, 3)
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def make_pairs(folder: Path, count: int = 4, size: tuple[int, int] = (48, 60), scale: int = 4,
               seed: int = 0) -> tuple[Path, Path]:
    """``folder/HR`` and ``folder/LR`` with ``count`` synthetic pairs (LR = bicubic, as generate_lr makes it)."""
    hr_dir, lr_dir = folder / 'HR', folder / 'LR'
    for i in range(count):
        hr = synthetic_image(seed + i, *size)
        imwrite(hr, hr_dir / f'img{i:02d}.png')
        imwrite(bicubic_downscale_uint8(hr, scale), lr_dir / f'img{i:02d}.png')
    return hr_dir, lr_dir


def tiny_train_options(tmp_path: Path, **updates) -> dict:
    """Options for a few-second CPU training of a tiny MSRResNet x4 on synthetic data in ``tmp_path``."""
    train_hr, train_lr = make_pairs(tmp_path / 'train', count=4, size=(48, 60))
    val_hr, val_lr = make_pairs(tmp_path / 'val', count=2, size=(32, 40), seed=100)
    opt = {
        'name': 'tiny', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {
            'train': {'name': 'tiny_train', 'type': 'PairedImageDataset', 'dataroot_gt': str(train_hr),
                      'dataroot_lq': str(train_lr), 'io_backend': {'type': 'disk'}, 'gt_size': 32,
                      'use_hflip': True, 'use_rot': True, 'num_worker_per_gpu': 0, 'batch_size_per_gpu': 2,
                      'dataset_enlarge_ratio': 2},
            'val': {'name': 'tiny_val', 'type': 'PairedImageDataset', 'dataroot_gt': str(val_hr),
                    'dataroot_lq': str(val_lr), 'io_backend': {'type': 'disk'}},
        },
        'network_g': {'type': 'MSRResNet', 'num_feat': 8, 'num_block': 1, 'upscale': 4},
        'path': {'root': str(tmp_path)},
        'train': {'ema_decay': 0.9, 'optim_g': {'type': 'Adam', 'lr': 1e-3, 'betas': [0.9, 0.99]},
                  'scheduler': {'type': 'MultiStepLR', 'milestones': [4], 'gamma': 0.5},
                  'total_iter': 6, 'warmup_iter': -1, 'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0}},
        'val': {'val_freq': 3, 'save_img': True,
                'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': True},
                            'ssim': {'type': 'calculate_ssim', 'crop_border': 4, 'test_y_channel': True}}},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 3, 'use_tb_logger': True},
    }
    for dotted, value in updates.items():
        target = opt
        keys = dotted.split('__')
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return opt


def write_yaml(path: Path, opt: dict) -> Path:
    path.write_text(yaml.safe_dump(opt, sort_keys=False))
    return path


@pytest.fixture
def tiny_options(tmp_path: Path) -> dict:
    return tiny_train_options(tmp_path)


# ---------------------------------------------------------------------- published option files, run unchanged
# Short runs of a published option file: workers, batch, logging of every iteration (iterations are set per test).
SHORT = ['logger:print_freq=1', 'datasets:train:batch_size_per_gpu=2', 'datasets:train:num_worker_per_gpu=0']


@pytest.fixture(scope='module')
def published_datasets(tmp_path_factory) -> Path:
    """The datasets the files name, at their relative paths: DIV2K-like training sub-images (x4 and x2 LR, also
    under DF2K/ with BasicSR's meta-info file), Set5 / Set14-like pairs large enough for NIQE's 96x96 blocks, and
    DIV2K-like validation images named as DIV2K's."""
    root = tmp_path_factory.mktemp('basicsr_root')
    sets = root / 'datasets'
    hr, lr = make_pairs(sets / 'div2k', count=3, size=(132, 136))
    train_hr = sets / 'DIV2K' / 'DIV2K_train_HR_sub'
    train_hr.parent.mkdir(parents=True)
    hr.rename(train_hr)
    (sets / 'DIV2K' / 'DIV2K_train_LR_bicubic').mkdir()
    lr.rename(sets / 'DIV2K' / 'DIV2K_train_LR_bicubic' / 'X4_sub')
    downscale_folder(train_hr, sets / 'DIV2K' / 'DIV2K_train_LR_bicubic' / 'X2_sub', 2)
    shutil.copytree(train_hr, sets / 'DF2K' / 'DIV2K_train_HR_sub')
    shutil.copytree(sets / 'DIV2K' / 'DIV2K_train_LR_bicubic' / 'X4_sub',
                    sets / 'DF2K' / 'DIV2K_train_LR_bicubic_X4_sub')
    meta_info = root / 'basicsr' / 'data' / 'meta_info' / 'meta_info_DIV2K800sub_GT.txt'
    meta_info.parent.mkdir(parents=True)
    meta_info.write_text(''.join(f'{p.name} (132,136,3)\n' for p in sorted(train_hr.iterdir())))
    for i, name in enumerate(('Set5', 'Set14')):
        gt, lq = make_pairs(sets / name, count=2, size=(120, 216), seed=10 * i)
        gt.rename(sets / name / 'GTmod12')
        lq.rename(sets / name / 'LRbicx4')
    downscale_folder(sets / 'Set5' / 'GTmod12', sets / 'Set5' / 'LRbicx2', 2)
    gt, lq = make_pairs(sets / 'div2k_valid', count=2, size=(40, 44), seed=30)
    gt.rename(sets / 'DIV2K' / 'DIV2K_valid_HR')
    (sets / 'DIV2K' / 'DIV2K_valid_LR_bicubic' / 'X4').mkdir(parents=True)
    for path in sorted(lq.iterdir()):  # LR named DIV2K-style: 0801x4.png
        path.rename(sets / 'DIV2K' / 'DIV2K_valid_LR_bicubic' / 'X4' / f'{path.stem}x4.png')
    return root


def downscale_folder(src: Path, dst: Path, scale: int) -> None:
    for path in sorted(src.iterdir()):
        imwrite(bicubic_downscale_uint8(imread(path), scale), dst / path.name)


@pytest.fixture
def root(tmp_path, published_datasets) -> Path:
    """A fresh run folder (experiments/, results/) that sees the datasets at the published relative paths."""
    for name in ('datasets', 'basicsr'):
        (tmp_path / name).symlink_to(published_datasets / name, target_is_directory=True)
    return tmp_path


def train(root: Path, option_file: Path, *overrides: str) -> tuple[Path, str]:
    """Run a training from ``option_file``; return its experiment folder and training log."""
    train_pipeline(root_path=str(root), argv=['-opt', str(option_file), '--force_yml', *overrides])
    exp = root / 'experiments' / yaml.safe_load(option_file.read_text())['name']
    return exp, next(exp.glob('train_*.log')).read_text()


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    @property
    def text(self) -> str:
        return '\n'.join(self.lines)


@pytest.fixture
def basicsr_log():
    """The messages of the package logger during the test (it does not propagate to pytest's caplog)."""
    logger = get_root_logger()  # configured (INFO) as a run configures it
    capture = _LogCapture()
    logger.addHandler(capture)
    yield capture
    logger.removeHandler(capture)


def simulate_full_disk(monkeypatch, partial: bool = False) -> None:
    """Make every atomic write (basicsr.utils.checkpoint) fail with ENOSPC, after writing half its data when
    ``partial``."""
    import errno
    import os

    from basicsr.utils import checkpoint
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, file):
            self._file = file

        def write(self, data):
            if partial:
                self._file.write(data[:len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self._file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._file.__exit__(*exc)

    monkeypatch.setattr(checkpoint.os, 'fdopen', lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
