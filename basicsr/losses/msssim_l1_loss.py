"""The MS-SSIM + L1 mix of Zhao, Gallo, Frosio and Kautz, "Loss Functions for Image Restoration with Neural
Networks" (IEEE TCI 2017), in its per-pixel (convolutional) form.

Every pixel p gets the MS-SSIM of the neighbourhoods around it, the scales being Gaussian windows of growing
``sigma`` at full resolution instead of a downsampling pyramid (the paper's construction; it keeps the loss defined
for small training patches):

    MS-SSIM(p) = l_M(p) * prod_j cs_j(p)        (the paper's exponents alpha = beta_j = 1)
    loss = alpha * (1 - MS-SSIM) + (1 - alpha) * (G_M * |x - y|) / data_range,   averaged over pixels and channels

with ``l`` and ``cs`` SSIM's luminance and contrast-structure terms under the Gaussian window of sigma_j, ``l_M``
and ``G_M`` those of the last (largest) sigma. Windows reach 3 sigma; borders are replicated.

This is not the MS-SSIM *metric* (:mod:`basicsr.metrics.ms_ssim`: a 2x downsampling pyramid, one 11x11 window, the
valid region only, no gradient); with a single sigma of 1.5 its map equals the SSIM metric's map away from the
borders, which the tests check.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.losses.loss_util import full_precision
from basicsr.utils.frequency import gaussian_kernel
from basicsr.utils.registry import LOSS_REGISTRY


def _ssim_terms(moments: torch.Tensor, c1: float, c2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM's luminance and contrast-structure maps from the filtered moments ``(mu_x, mu_y, E[x^2], E[y^2],
    E[xy])`` stacked on a leading dim."""
    mu_x, mu_y, xx, yy, xy = moments
    mu_xy = mu_x * mu_y
    mu_sq = mu_x.square() + mu_y.square()
    luminance = (2 * mu_xy + c1) / (mu_sq + c1)
    contrast_structure = (2 * (xy - mu_xy) + c2) / (xx + yy - mu_sq + c2)
    return luminance, contrast_structure


@LOSS_REGISTRY.register()
class MSSSIML1Loss(nn.Module):
    """``loss_weight * mean(alpha * (1 - MS-SSIM) + (1 - alpha) * Gaussian-weighted L1)`` (see the module docstring).

    Args:
        loss_weight: weight of the term.
        alpha: share of the MS-SSIM part; the paper's 0.84 (traiNNer-redux defaults to 0.05, the authors' Caffe
            layer to 0.025).
        gaussian_sigmas: the window sigmas of the scales, smallest first; the paper's (0.5, 1, 2, 4, 8).
        data_range: the value range of the images (1 for [0, 1]); sets SSIM's constants and scales the L1 part.
        k: SSIM's (K1, K2): ``C1 = (K1 * data_range)^2``, ``C2 = (K2 * data_range)^2``.
    """

    def __init__(self, loss_weight: float = 1.0, alpha: float = 0.84,
                 gaussian_sigmas: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0), data_range: float = 1.0,
                 k: tuple[float, float] = (0.01, 0.03)) -> None:
        super().__init__()
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}.')
        if not gaussian_sigmas or min(gaussian_sigmas) <= 0:
            raise ValueError(f'gaussian_sigmas must be a non-empty list of positive numbers, got {gaussian_sigmas}.')
        if data_range <= 0:
            raise ValueError(f'data_range must be > 0, got {data_range}.')
        self.loss_weight = loss_weight
        self.alpha = alpha
        self.data_range = data_range
        self.c1, self.c2 = (k[0] * data_range)**2, (k[1] * data_range)**2
        self.sigmas = tuple(float(s) for s in gaussian_sigmas)
        for i, sigma in enumerate(self.sigmas):
            size = 2 * math.ceil(3 * sigma) + 1
            self.register_buffer(f'window_{i}', gaussian_kernel(size, sigma).sum(dim=0), persistent=False)

    def _blur(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        """Gaussian filter of scale ``scale`` over the last two dims, borders replicated: separable, one
        depthwise group per plane (on CPU several times faster than the planes as a batch of one channel)."""
        window = getattr(self, f'window_{scale}').to(x.dtype)
        size = window.numel()
        planes = F.pad(x.reshape(1, -1, *x.shape[-2:]), (size // 2, ) * 4, mode='replicate')
        count = planes.shape[1]
        rows = F.conv2d(planes, window.view(1, 1, 1, size).expand(count, 1, 1, size), groups=count)
        return F.conv2d(rows, window.view(1, 1, size, 1).expand(count, 1, size, 1), groups=count).view(x.shape)

    def _moments(self, x: torch.Tensor, y: torch.Tensor, scale: int) -> torch.Tensor:
        return self._blur(torch.stack([x, y, x * x, y * y, x * y]), scale)  # (5, N, C, H, W)

    def ms_ssim_map(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The per-pixel, per-channel MS-SSIM, (N, C, H, W)."""
        value = None
        for scale in range(len(self.sigmas)):
            luminance, contrast_structure = _ssim_terms(self._moments(pred, target, scale), self.c1, self.c2)
            value = contrast_structure if value is None else value * contrast_structure
        return value * luminance  # the luminance of the last (largest) window

    @full_precision
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ms_ssim = self.ms_ssim_map(pred, target)
        weighted_l1 = self._blur((pred - target).abs(), len(self.sigmas) - 1) / self.data_range
        return self.loss_weight * (self.alpha * (1 - ms_ssim) + (1 - self.alpha) * weighted_l1).mean()
