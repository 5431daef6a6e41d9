"""Filtering of image batches with per-sample kernels, and unsharp masking (BasicSR's names and interfaces)."""
import cv2
import numpy as np
import torch
from torch.nn import functional as F


def _pad(img: torch.Tensor, pad: int) -> torch.Tensor:
    """Reflect padding (BasicSR's); for an image too small to reflect ``pad`` pixels, edge replication."""
    if pad == 0:
        return img
    mode = 'reflect' if pad < min(img.shape[-2:]) else 'replicate'
    return F.pad(img, (pad, pad, pad, pad), mode=mode)


def filter2D(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Filter a batch ``img`` (B, C, H, W) with ``kernel``: (K, K) or (1, K, K) for the whole batch, (B, K, K) for one
    kernel per sample; K odd. Borders are reflected; the output has the input's size.

    Like BasicSR's (and ``F.conv2d``) this is a correlation: the kernel is not flipped, which makes no difference
    for the point-symmetric kernels of :mod:`basicsr.data.degradations`.
    """
    k = kernel.size(-1)
    if k % 2 == 0 or kernel.size(-2) != k:
        raise ValueError(f'filter2D needs square kernels of odd size, got shape {tuple(kernel.shape)}.')
    b, c, h, w = img.shape
    kernel = kernel.to(img.dtype).view(-1, 1, k, k)
    padded = _pad(img, k // 2)
    if kernel.size(0) == 1:
        return F.conv2d(padded.reshape(b * c, 1, *padded.shape[-2:]), kernel).view(b, c, h, w)
    if kernel.size(0) != b:
        raise ValueError(f'filter2D got {kernel.size(0)} kernels for a batch of {b} images.')
    kernel = kernel.repeat_interleave(c, dim=0)  # (B * C, 1, K, K), sample-major like the channels below
    return F.conv2d(padded.reshape(1, b * c, *padded.shape[-2:]), kernel, groups=b * c).view(b, c, h, w)


def _gaussian_1d(radius: int, sigma: float) -> np.ndarray:
    """OpenCV's Gaussian kernel of odd size ``radius`` (``sigma`` 0: OpenCV's default for the size)."""
    return cv2.getGaussianKernel(radius, sigma).astype(np.float32)[:, 0]


def _blur_matrix(n: int, kernel_1d: torch.Tensor) -> torch.Tensor:
    """The (n, n) matrix of the 1D filter ``kernel_1d`` (odd length) over n samples with reflected borders (as
    OpenCV's default, repeated for kernels longer than the signal): ``matrix @ x`` filters ``x``."""
    radius = kernel_1d.numel() // 2
    taps = torch.arange(n, device=kernel_1d.device).view(-1, 1) + torch.arange(-radius, radius + 1,
                                                                               device=kernel_1d.device)
    period = max(2 * (n - 1), 1)
    taps = taps.remainder(period)
    taps = torch.where(taps >= n, period - taps, taps)
    matrix = torch.zeros(n, n, device=kernel_1d.device, dtype=kernel_1d.dtype)
    return matrix.scatter_add_(1, taps, kernel_1d.expand(n, -1).contiguous())


def _odd(radius: int) -> int:
    return radius + 1 if radius % 2 == 0 else radius


def usm_sharp(img: np.ndarray, weight: float = 0.5, radius: int = 50, threshold: float = 10) -> np.ndarray:
    """Unsharp masking of a float32 HWC image in [0, 1].

    With the Gaussian blur ``B`` of the image ``I`` (size ``radius``, made odd): the sharpened image
    ``K = clip(I + weight * (I - B), 0, 1)`` is used where ``|I - B| * 255 > threshold``, ``I`` elsewhere, the mask
    softened with the same blur.
    """
    radius = _odd(radius)
    blur = cv2.GaussianBlur(img, (radius, radius), 0)
    residual = img - blur
    mask = (np.abs(residual) * 255 > threshold).astype(np.float32)
    soft_mask = cv2.GaussianBlur(mask, (radius, radius), 0)
    sharp = np.clip(img + weight * residual, 0, 1)
    return soft_mask * sharp + (1 - soft_mask) * img


class USMSharp(torch.nn.Module):
    """:func:`usm_sharp` for a (B, C, H, W) batch, on the batch's device.

    ``kernel`` (1, K, K) is BasicSR's buffer. The blur is the same filter computed as two matrix products, with the
    separable Gaussian's 1D filter along the rows and along the columns (borders reflected): matrix products run
    near the processor's peak, where a 51-tap convolution of single-channel planes runs far below it.
    """

    def __init__(self, radius: int = 50, sigma: float = 0) -> None:
        super().__init__()
        self.radius = _odd(radius)
        kernel_1d = torch.from_numpy(_gaussian_1d(self.radius, sigma))
        self.register_buffer('kernel', torch.outer(kernel_1d, kernel_1d).unsqueeze(0))
        self.register_buffer('kernel_1d', kernel_1d, persistent=False)

    def blur(self, img: torch.Tensor) -> torch.Tensor:
        kernel = self.kernel_1d.to(img.device, img.dtype)
        return _blur_matrix(img.size(-2), kernel) @ img @ _blur_matrix(img.size(-1), kernel).T

    def forward(self, img: torch.Tensor, weight: float = 0.5, threshold: float = 10) -> torch.Tensor:
        residual = img - self.blur(img)
        mask = (torch.abs(residual) * 255 > threshold).to(img.dtype)
        soft_mask = self.blur(mask)
        sharp = torch.clip(img + weight * residual, 0, 1)
        return soft_mask * sharp + (1 - soft_mask) * img
