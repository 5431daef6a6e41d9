"""Crops and augmentations on HWC numpy images.

Randomness comes from an explicit ``random.Random`` (one per sample, see :mod:`basicsr.data.sampler`), so a
sample's crop and flips depend only on the run seed, the epoch and its position, not on dataloader workers.
"""
import random

import numpy as np

from basicsr.utils.errors import DataError
from basicsr.utils.matlab_functions import imresize

# LQ pixels of real context kept around a crop before downscaling it, so the bicubic filter (4 LQ pixels wide)
# sees the same neighbours as when the whole image is downscaled.
_RESIZE_MARGIN = 3


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so height and width are multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[:h - h % scale, :w - w % scale, ...]


def quantize(img: np.ndarray) -> np.ndarray:
    """Round a float [0, 1] image to the 8-bit grid, as saving it as PNG and reading it back would."""
    return (np.clip(np.round(img * 255.), 0, 255) / 255.).astype(np.float32)


def bicubic_lq(gt: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic LQ of a float [0, 1] GT image, rounded to the 8-bit grid (float32 result)."""
    return quantize(imresize(gt, 1 / scale))


def bicubic_downscale_uint8(img: np.ndarray, scale: int) -> np.ndarray:
    """The uint8 bicubic LR of a uint8 image, as SR benchmarks make it (``scripts/generate_lr.py`` writes this)."""
    return (bicubic_lq(img.astype(np.float64) / 255., scale) * 255.).round().astype(np.uint8)


def check_pair_size(gt_shape: tuple, lq_shape: tuple, scale: int, gt_path: str, lq_path: str) -> None:
    """GT must be exactly ``scale`` times LQ in both dimensions."""
    if gt_shape[0] != lq_shape[0] * scale or gt_shape[1] != lq_shape[1] * scale:
        raise DataError(f'{gt_path} ({gt_shape[1]}x{gt_shape[0]}) is not x{scale} the size of {lq_path} '
                        f'({lq_shape[1]}x{lq_shape[0]}); expected GT {lq_shape[1] * scale}x{lq_shape[0] * scale}.')


def _check_patch_fits(shape: tuple, gt_size: int, path: str) -> None:
    if shape[0] < gt_size or shape[1] < gt_size:
        raise DataError(f'{path} ({shape[1]}x{shape[0]}) is smaller than the GT patch size {gt_size}x{gt_size} '
                        '(gt_size).')


def paired_random_crop(gt: np.ndarray, lq: np.ndarray, gt_size: int, scale: int, rng: random.Random,
                       gt_path: str = '', lq_path: str = '') -> tuple[np.ndarray, np.ndarray]:
    """A random ``gt_size`` GT patch and the matching ``gt_size // scale`` LQ patch."""
    check_pair_size(gt.shape, lq.shape, scale, gt_path, lq_path)
    _check_patch_fits(gt.shape, gt_size, gt_path)  # the pair's sizes match, so the LQ patch fits too
    lq_size = gt_size // scale
    top = rng.randint(0, lq.shape[0] - lq_size)
    left = rng.randint(0, lq.shape[1] - lq_size)
    lq_patch = lq[top:top + lq_size, left:left + lq_size, ...]
    gt_patch = gt[top * scale:(top + lq_size) * scale, left * scale:(left + lq_size) * scale, ...]
    return gt_patch, lq_patch


def random_crop_with_bicubic_lq(gt: np.ndarray, gt_size: int, scale: int, rng: random.Random,
                                gt_path: str = '') -> tuple[np.ndarray, np.ndarray]:
    """A random GT patch and its bicubic LQ, made on the fly.

    Equals cropping ``bicubic_lq(gt)`` at the same position (the positions drawn are those of
    :func:`paired_random_crop`), but only a small region around the patch is downscaled.
    """
    gt = mod_crop(gt, scale)
    _check_patch_fits(gt.shape, gt_size, gt_path)
    lq_h, lq_w = gt.shape[0] // scale, gt.shape[1] // scale
    lq_size = gt_size // scale
    top = rng.randint(0, lq_h - lq_size)
    left = rng.randint(0, lq_w - lq_size)
    r0, c0 = max(top - _RESIZE_MARGIN, 0), max(left - _RESIZE_MARGIN, 0)
    r1, c1 = min(top + lq_size + _RESIZE_MARGIN, lq_h), min(left + lq_size + _RESIZE_MARGIN, lq_w)
    region_lq = bicubic_lq(gt[r0 * scale:r1 * scale, c0 * scale:c1 * scale, ...], scale)
    lq_patch = region_lq[top - r0:top - r0 + lq_size, left - c0:left - c0 + lq_size, ...]
    gt_patch = gt[top * scale:(top + lq_size) * scale, left * scale:(left + lq_size) * scale, ...]
    return gt_patch, lq_patch


def augment(imgs: list[np.ndarray], hflip: bool, rotation: bool, rng: random.Random) -> list[np.ndarray]:
    """The same random horizontal flip, vertical flip and transpose (8 dihedral variants) for every image."""
    do_hflip = hflip and rng.random() < 0.5
    do_vflip = rotation and rng.random() < 0.5
    do_transpose = rotation and rng.random() < 0.5
    out = []
    for img in imgs:
        if do_hflip:
            img = img[:, ::-1, ...]
        if do_vflip:
            img = img[::-1, ...]
        if do_transpose:
            img = img.transpose(1, 0, 2) if img.ndim == 3 else img.T
        out.append(img)
    return out
