"""MS-SSIM (Wang, Simoncelli and Bovik, "Multi-scale structural similarity for image quality assessment", 2003),
with SSIM's conventions (see :mod:`.psnr_ssim`): [0, 255] scale, optional border crop then BT.601 Y, 11x11 Gaussian
window (sigma 1.5) over the valid region, C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, one value per channel, averaged.

Over five scales, each the previous one averaged over 2x2 blocks (an odd last row or column is dropped), the mean
contrast-structure term ``cs = (2 sigma12 + C2) / (sigma1^2 + sigma2^2 + C2)`` of scales 1-4 and the mean SSIM map
of scale 5 (where the luminance term enters) are combined as ``prod_j cs_j^w_j * ssim_5^w_5`` with the paper's
weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); a negative term counts as 0 (as in TensorFlow and
pytorch-msssim), so the value stays real. Images must be at least 176x176 after cropping (the window at scale 5);
smaller ones give NaN with a warning. Higher is better; identical images give 1.
"""
import math
import warnings

import numpy as np
import torch
from torch.nn import functional as F

from basicsr.metrics.psnr_ssim import (_C1, _C2, _CPU_BLOCK_BYTES, _DEVICE_BLOCK_BYTES, _HALF, _WINDOW_SIZE,
                                       _Buffers, _crop_pair_torch, _gaussian_valid, _prepare_numpy, _to_255_float64,
                                       ssim_terms)
from basicsr.utils.registry import METRIC_REGISTRY

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MIN_SIZE = _WINDOW_SIZE * 2**(len(MS_SSIM_WEIGHTS) - 1)  # 176: the window still fits at the coarsest scale


def _fits(size: tuple[int, ...], name: str) -> bool:
    if min(size) >= MIN_SIZE:
        return True
    warnings.warn(f'{name}: MS-SSIM needs images of at least {MIN_SIZE}x{MIN_SIZE} after cropping the border (the '
                  f'{_WINDOW_SIZE}x{_WINDOW_SIZE} window at the 5th scale), got {tuple(size)}: the value is nan.',
                  RuntimeWarning, stacklevel=3)
    return False


@METRIC_REGISTRY.register(perfect_score=1.0)
def calculate_ms_ssim(img: np.ndarray, img2: np.ndarray, crop_border: int, input_order: str = 'HWC',
                      test_y_channel: bool = False) -> float:
    """MS-SSIM of two [0, 255] BGR images (the reference implementation, float64)."""
    img, img2 = _prepare_numpy(img, img2, crop_border, input_order, test_y_channel, 'calculate_ms_ssim')
    if not _fits(img.shape[:2], 'calculate_ms_ssim'):
        return math.nan
    return float(np.mean([_ms_ssim(img[..., c], img2[..., c]) for c in range(img.shape[2])]))


def _ms_ssim(x: np.ndarray, y: np.ndarray) -> float:
    value = 1.0
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        ssim, cs = _ssim_and_cs(x, y)
        if level == len(MS_SSIM_WEIGHTS) - 1:
            return value * max(ssim, 0.) ** weight
        value *= max(cs, 0.) ** weight
        x, y = _halve(x), _halve(y)
    raise AssertionError('unreachable')


def _ssim_and_cs(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Means of the SSIM map and of its contrast-structure factor, single-channel float64 images."""
    luminance, contrast_structure = ssim_terms(x, y)
    return float((luminance * contrast_structure).mean()), float(contrast_structure.mean())


def _halve(x: np.ndarray) -> np.ndarray:
    """Means of the 2x2 blocks (an odd last row/column dropped)."""
    h, w = x.shape[0] // 2, x.shape[1] // 2
    return x[:2 * h, :2 * w].reshape(h, 2, w, 2).mean(axis=(1, 3))


@METRIC_REGISTRY.register(perfect_score=1.0)
def calculate_ms_ssim_pt(img: torch.Tensor, img2: torch.Tensor, crop_border: int, test_y_channel: bool = False,
                         input_order: str = 'CHW') -> torch.Tensor:
    """MS-SSIM of NCHW RGB [0, 1] tensors, shape (N,) float64, on their device; the numpy function's values to
    about 1e-6 (``input_order`` only fits its options)."""
    img, img2 = _crop_pair_torch(img, img2, crop_border, 'calculate_ms_ssim_pt')
    if not _fits(img.shape[-2:], 'calculate_ms_ssim_pt'):
        return torch.full(img.shape[:1], math.nan, dtype=torch.float64, device=img.device)
    x, y = _to_255_float64(img, test_y_channel), _to_255_float64(img2, test_y_channel)
    value = torch.ones(x.shape[:2], dtype=torch.float64, device=x.device)
    buffers = _Buffers()
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        last = level == len(MS_SSIM_WEIGHTS) - 1
        value *= _mean_term(x, y, last, buffers).clamp_(min=0)**weight
        if not last:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return value.mean(dim=1)


def _mean_term(x: torch.Tensor, y: torch.Tensor, ssim: bool, buffers: _Buffers) -> torch.Tensor:
    """Mean over the valid region of the cs map (or of the SSIM map), (N, C), of float64 images on the 0-255 scale.

    Works on blocks of rows, as :func:`~basicsr.metrics.psnr_ssim.calculate_ssim_pt` does, so that on CPUs the
    filtered moments stay in cache.
    """
    n, c, h, w = x.shape
    out_h, out_w = h - 2 * _HALF, w - 2 * _HALF
    budget = _CPU_BLOCK_BYTES if x.device.type == 'cpu' else _DEVICE_BLOCK_BYTES
    rows = max(8, budget // (4 * n * c * w * 8))  # 4 float64 moments per pixel
    total = torch.zeros(n, c, dtype=torch.float64, device=x.device)
    for top in range(0, out_h, rows):
        bottom = min(top + rows, out_h) + 2 * _HALF
        xs, ys = x[..., top:bottom, :], y[..., top:bottom, :]
        moments = buffers.get('moments', (4,) + xs.shape, x.device)
        moments[0].copy_(xs)
        moments[1].copy_(ys)
        torch.mul(xs, xs, out=moments[2]).addcmul_(ys, ys)
        torch.mul(xs, ys, out=moments[3])
        mu1, mu2, sq_sum, prod = _gaussian_valid(moments, buffers)
        mu1_mu2 = mu1 * mu2
        mu_sq_sum = mu1.mul_(mu1).addcmul_(mu2, mu2)
        term = prod.sub_(mu1_mu2).mul_(2).add_(_C2).div_(sq_sum.sub_(mu_sq_sum).add_(_C2))  # cs
        if ssim:
            term.mul_(mu1_mu2.mul_(2).add_(_C1).div_(mu_sq_sum.add_(_C1)))
        total += term.sum(dim=(2, 3))
    return total / (out_h * out_w)
