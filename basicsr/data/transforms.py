"""Crops and augmentations on HWC numpy images (and, for :func:`paired_random_crop`, NCHW/CHW tensors).

The signatures are BasicSR's. The project's datasets pass ``rng``, an explicit ``random.Random`` (one per sample,
see :mod:`basicsr.data.sampler`), so a sample's crop and flips depend only on the run seed, the epoch and its
position, not on dataloader workers; without it, draws come from the ``random`` module, as in BasicSR.
"""
import random
from typing import Any

import cv2
import numpy as np
import torch

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


def paired_random_crop(img_gts: Any, img_lqs: Any, gt_patch_size: int, scale: int, gt_path: str | None = None, *,
                       rng: random.Random | None = None, lq_path: str | None = None) -> tuple[Any, Any]:
    """A random ``gt_patch_size`` GT patch and the matching ``gt_patch_size // scale`` LQ patch.

    ``img_gts`` / ``img_lqs``: an image or a list of images cropped at the same place, numpy HWC/HW arrays or
    tensors (..., H, W). As in BasicSR, a list of one image gives back the image itself. A GT that is not
    ``scale`` times its LQ, or smaller than the patch, is a DataError naming ``gt_path`` / ``lq_path``.
    """
    gts = img_gts if isinstance(img_gts, list) else [img_gts]
    lqs = img_lqs if isinstance(img_lqs, list) else [img_lqs]
    gt_hw, lq_hw = _height_width(gts[0]), _height_width(lqs[0])
    check_pair_size(gt_hw, lq_hw, scale, gt_path or '', lq_path or '')
    _check_patch_fits(gt_hw, gt_patch_size, gt_path or '')  # the pair's sizes match, so the LQ patch fits too
    generator = rng or random
    lq_size = gt_patch_size // scale
    top = generator.randint(0, lq_hw[0] - lq_size)
    left = generator.randint(0, lq_hw[1] - lq_size)
    lqs = [_crop(img, top, left, lq_size) for img in lqs]
    gts = [_crop(img, top * scale, left * scale, lq_size * scale) for img in gts]
    return _unlist(gts), _unlist(lqs)


def _height_width(img: np.ndarray | torch.Tensor) -> tuple[int, int]:
    return tuple(img.shape[-2:]) if isinstance(img, torch.Tensor) else tuple(img.shape[:2])


def _crop(img: np.ndarray | torch.Tensor, top: int, left: int, size: int) -> np.ndarray | torch.Tensor:
    if isinstance(img, torch.Tensor):
        return img[..., top:top + size, left:left + size]
    return img[top:top + size, left:left + size, ...]


def _unlist(imgs: list) -> Any:
    return imgs[0] if len(imgs) == 1 else imgs


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


def augment(imgs: Any, hflip: bool = True, rotation: bool = True, flows: Any = None, return_status: bool = False, *,
            rng: random.Random | None = None) -> Any:
    """The same random horizontal flip, vertical flip and transpose (8 dihedral variants) for every image.

    ``imgs`` (and ``flows``, (H, W, 2) optical flows whose vectors are transformed too): an HWC/HW image or a
    list; as in BasicSR a list of one gives back the image itself. Returns the images, plus the flows when given,
    or else the ``(hflip, vflip, transpose)`` done when ``return_status``. Results are contiguous arrays.
    """
    generator = rng or random
    do_hflip = hflip and generator.random() < 0.5
    do_vflip = rotation and generator.random() < 0.5
    do_transpose = rotation and generator.random() < 0.5

    def transform(img: np.ndarray) -> np.ndarray:
        if do_hflip:
            img = img[:, ::-1, ...]
        if do_vflip:
            img = img[::-1, ...]
        if do_transpose:
            img = img.swapaxes(0, 1)
        return np.ascontiguousarray(img)

    def transform_flow(flow: np.ndarray) -> np.ndarray:
        flow = transform(flow)
        if do_transpose:
            flow = flow[..., ::-1]  # (dx, dy) -> (dy, dx)
        sign = np.array([-1. if do_hflip else 1., -1. if do_vflip else 1.], flow.dtype)
        if do_transpose:
            sign = sign[::-1]
        return np.ascontiguousarray(flow * sign)

    out = _unlist([transform(img) for img in (imgs if isinstance(imgs, list) else [imgs])])
    if flows is not None:
        return out, _unlist([transform_flow(f) for f in (flows if isinstance(flows, list) else [flows])])
    if return_status:
        return out, (do_hflip, do_vflip, do_transpose)
    return out


def img_rotate(img: np.ndarray, angle: float, center: tuple[float, float] | None = None,
               scale: float = 1.0) -> np.ndarray:
    """Rotate ``img`` by ``angle`` degrees (counter-clockwise) about ``center`` (the image centre by default),
    scaled by ``scale``, keeping its size (BasicSR's helper; bilinear, black outside)."""
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(center or (w // 2, h // 2), angle, scale)
    return cv2.warpAffine(img, matrix, (w, h))
