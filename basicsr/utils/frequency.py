"""Frequency separation of images: ``low = low_pass(x)``, ``high = x - low``.

Used by DSGAN and ESRGAN-FS (Fritsche et al., "Frequency Separation for Real-World Super-Resolution", 2019): the
colour (pixel) loss compares low frequencies, the discriminator sees high frequencies only.

Low-pass filters, all size-preserving and with weights summing to one:
    avg: ``kernel_size`` x ``kernel_size`` box mean, stride 1 (FSSR's default, kernel 5 for DSGAN, 9 for ESRGAN-FS).
    gaussian: a depthwise ``kernel_size`` Gaussian with ``sigma`` (default ``kernel_size / 6``, DSGAN's choice).
    wavelet: one level of the Haar wavelet transform keeping only the LL band, i.e. every 2x2 block replaced by its
        mean (``kernel_size`` is ignored). Its high part holds the LH, HL and HH bands.
Borders are padded (``reflect`` or ``replicate``) rather than zero-filled, so the low-pass of a constant image is
that image and its high-pass is exactly zero, at the borders too.
"""
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

FilterType = Literal['avg', 'gaussian', 'wavelet']
PaddingMode = Literal['reflect', 'replicate']
FILTERS: tuple[str, ...] = FilterType.__args__
PADDING_MODES: tuple[str, ...] = PaddingMode.__args__


def gaussian_kernel(kernel_size: int, sigma: float) -> torch.Tensor:
    """A normalised 2-D Gaussian, (kernel_size, kernel_size), float32."""
    coords = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    weights = torch.exp(-coords**2 / (2 * sigma**2))
    kernel = torch.outer(weights, weights)
    return (kernel / kernel.sum()).float()


class FrequencySeparation(nn.Module):
    """Split NCHW images into low and high frequencies (see the module docstring for the filters).

    Args:
        filter: ``avg``, ``gaussian`` or ``wavelet``.
        kernel_size: odd size of the avg / Gaussian window.
        sigma: Gaussian standard deviation in pixels; default ``kernel_size / 6``.
        padding_mode: how borders are extended, ``reflect`` or ``replicate``.
    """

    def __init__(self, filter: FilterType = 'avg', kernel_size: int = 5, sigma: float | None = None,
                 padding_mode: PaddingMode = 'reflect') -> None:
        super().__init__()
        if filter not in FILTERS:
            raise ValueError(f"filter must be one of {', '.join(FILTERS)}, got '{filter}'.")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {', '.join(PADDING_MODES)}, got '{padding_mode}'.")
        if filter != 'wavelet' and (kernel_size < 1 or kernel_size % 2 == 0):
            raise ValueError(f'kernel_size must be a positive odd number (a centred window), got {kernel_size}.')
        if sigma is not None and not sigma > 0:
            raise ValueError(f'sigma must be > 0, got {sigma}.')
        self.filter_type = filter
        self.kernel_size = kernel_size
        self.padding_mode = padding_mode
        if filter == 'gaussian':
            kernel = gaussian_kernel(kernel_size, sigma or kernel_size / 6)
            self.register_buffer('kernel', kernel[None, None], persistent=False)

    def extra_repr(self) -> str:
        return f'filter={self.filter_type}, kernel_size={self.kernel_size}, padding_mode={self.padding_mode}'

    def low(self, x: torch.Tensor) -> torch.Tensor:
        """The low-pass of ``x`` (N, C, H, W), same shape."""
        if self.filter_type == 'wavelet':
            return self._haar_low(x)
        pad = self.kernel_size // 2
        padded = F.pad(x, (pad, pad, pad, pad), mode=self._mode_for(x))
        if self.filter_type == 'avg':
            return F.avg_pool2d(padded, self.kernel_size, stride=1)
        channels = x.shape[1]
        kernel = self.kernel.to(x.dtype).expand(channels, 1, -1, -1)
        return F.conv2d(padded, kernel, groups=channels)

    def high(self, x: torch.Tensor) -> torch.Tensor:
        """``x - low(x)``: zero for a constant image."""
        return x - self.low(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(low, high)``; ``low + high`` equals ``x`` up to one floating-point rounding."""
        low = self.low(x)
        return low, x - low

    def _mode_for(self, x: torch.Tensor) -> str:
        """Reflection needs more pixels than the padding; images smaller than that are replicated instead."""
        pad = self.kernel_size // 2
        if self.padding_mode == 'reflect' and min(x.shape[-2:]) > pad:
            return 'reflect'
        return 'replicate'

    @staticmethod
    def _haar_low(x: torch.Tensor) -> torch.Tensor:
        """The Haar LL band transformed back: each 2x2 block's mean (odd sizes: last row/column replicated)."""
        height, width = x.shape[-2:]
        padded = F.pad(x, (0, width % 2, 0, height % 2), mode='replicate')
        means = F.avg_pool2d(padded, 2)
        return means.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)[..., :height, :width]


def high_frequency_energy(img: torch.Tensor, separation: FrequencySeparation) -> torch.Tensor:
    """Mean squared high-pass of each [0, 1] image of a batch, on the 0-255 scale: shape (N,).

    White noise of standard deviation ``s`` (0-255) adds about ``s**2 (1 - 1/k**2)`` with the avg filter.
    """
    return separation.high(img.float()).mul(255.).square().flatten(1).mean(1)

