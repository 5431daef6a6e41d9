"""JPEG compression in torch, batched, at a per-sample quality, on any device, optionally differentiable.

The steps are baseline JPEG's as libjpeg (and so OpenCV) performs them: JFIF RGB -> YCbCr, 4:2:0 chroma subsampling
(2x2 means), edges extended by replication to whole 16x16 macroblocks, 8x8 DCT of samples - 128, quantisation with
the standard tables (JPEG Annex K) scaled by the quality as ``jpeg_set_quality`` scales them (integer entries, 1 to
255), rounding; then the inverse, with libjpeg's "fancy" (triangular) chroma upsampling. Entropy coding is lossless
and skipped. What differs from libjpeg: float instead of integer arithmetic and no rounding of the intermediate
YCbCr samples, so an output differs from OpenCV's by a fraction of a grey level in most pixels and, where a
coefficient lies near a rounding boundary, by one quantisation step of that coefficient.

``differentiable=True`` replaces the rounding of the coefficients by ``round(x) + (x - round(x))^3`` (Shin & Song,
"JPEG-resistant adversarial images", 2017): the same values up to 1/8 of a step, with a useful gradient.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

# Annex K of the JPEG standard, rows = vertical frequency (libjpeg's natural order).
LUMA_TABLE = (
    (16, 11, 10, 16, 24, 40, 51, 61), (12, 12, 14, 19, 26, 58, 60, 55), (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62), (18, 22, 37, 56, 68, 109, 103, 77), (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101), (72, 92, 95, 98, 112, 100, 103, 99))
CHROMA_TABLE = (
    (17, 18, 24, 47, 99, 99, 99, 99), (18, 21, 26, 66, 99, 99, 99, 99), (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99), *[(99,) * 8] * 4)
# JFIF's full-range YCbCr (offsets on the 0-255 scale).
RGB_TO_YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
YCBCR_TO_RGB = ((1.0, 0.0, 1.402), (1.0, -0.344136, -0.714136), (1.0, 1.772, 0.0))
LEVEL_SHIFT = 128.  # JPEG transforms samples - 128; JFIF's Cb and Cr are already centred on 128
BLOCK, MACROBLOCK = 8, 16


def diff_round(x: torch.Tensor) -> torch.Tensor:
    """Rounding with a gradient: ``round(x) + (x - round(x))^3``."""
    rounded = torch.round(x)
    return rounded + (x - rounded)**3


def quality_to_factor(quality: float) -> float:
    """libjpeg's scaling of the standard tables, in percent / 100: ``50 / q`` below quality 50, ``2 - q / 50`` above."""
    quality = min(max(quality, 1.0), 100.0)
    return (5000. / quality if quality < 50 else 200. - quality * 2) / 100.


def quantization_tables(base: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """The (B, 8, 8) tables of a (8, 8) ``base`` table at each quality of ``quality`` (B,), as libjpeg computes them
    (``jpeg_set_quality`` with ``force_baseline``): ``floor((base * percent + 50) / 100)`` within [1, 255]."""
    quality = quality.clamp(1, 100).view(-1, 1, 1)
    percent = torch.where(quality < 50, 5000. / quality, 200. - quality * 2)
    return torch.floor((base * percent + 50.) / 100.).clamp(1, 255)


def _dct_matrix() -> torch.Tensor:
    """The 2D 8x8 DCT as a 64x64 matrix on row-major blocks: JPEG's FDCT of a block ``B`` is ``C B C^T`` with the
    orthonormal 8-point DCT-II matrix ``C``, i.e. ``kron(C, C) @ vec(B)``; one matrix product then transforms all the
    blocks of a batch (the inverse is the transpose)."""
    k = torch.arange(BLOCK, dtype=torch.float64).view(-1, 1)
    n = torch.arange(BLOCK, dtype=torch.float64).view(1, -1)
    matrix = torch.cos((2 * n + 1) * k * math.pi / (2 * BLOCK)) * math.sqrt(2 / BLOCK)
    matrix[0] /= math.sqrt(2)
    return torch.kron(matrix, matrix).float()


def _upsample_chroma(chroma: torch.Tensor) -> torch.Tensor:
    """libjpeg's "fancy" 2x2 upsampling: each output sample is 3/4 of the nearer input sample plus 1/4 of the next
    nearer one, in each direction, edges replicated; that is exactly bilinear interpolation with half-pixel
    centres (``align_corners=False``), whose source coordinates are clamped at the borders."""
    return F.interpolate(chroma, scale_factor=2, mode='bilinear', align_corners=False)


def _mix_channels(matrix: tuple[tuple[float, ...], ...], image: torch.Tensor) -> torch.Tensor:
    """``matrix`` (3 x 3) applied to the channels of ``image`` (B, 3, H, W); as plain weighted sums, which on a CPU
    are many times faster than a 1x1 convolution or a matrix product over 3 channels."""
    channels = image.unbind(1)
    return torch.stack([sum(weight * channel for weight, channel in zip(row, channels)) for row in matrix], 1)


class DiffJPEG(nn.Module):
    """JPEG compression and decompression of an RGB batch in [0, 1] (BasicSR's interface).

    Args:
        differentiable: round the quantised coefficients with :func:`diff_round` (gradients pass) instead of
            ``torch.round``.

    ``forward(x, quality)``: ``x`` is (B, 3, H, W), any size; ``quality`` a number or a (B,) tensor of qualities
    (1-100; fractional values give the tables of the quality truncated to an integer, as libjpeg takes it).
    Returns the decoded batch, clamped to [0, 1] but not rounded to 8 bits, in ``x``'s dtype.
    """

    def __init__(self, differentiable: bool = True) -> None:
        super().__init__()
        self.differentiable = differentiable
        self.rounding = diff_round if differentiable else torch.round
        constants = {'dct': _dct_matrix(), 'luma_table': torch.tensor(LUMA_TABLE, dtype=torch.float32),
                     'chroma_table': torch.tensor(CHROMA_TABLE, dtype=torch.float32)}
        for name, value in constants.items():
            self.register_buffer(name, value, persistent=False)

    def forward(self, x: torch.Tensor, quality: float | torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.size(1) != 3:
            raise ValueError(f'DiffJPEG expects an RGB batch (B, 3, H, W), got shape {tuple(x.shape)}.')
        b, _, h, w = x.shape
        quality = torch.as_tensor(quality, dtype=torch.float32, device=x.device).floor().expand(b)
        image = x.float() * 255.
        pad_h, pad_w = -h % MACROBLOCK, -w % MACROBLOCK
        if pad_h or pad_w:
            image = F.pad(image, (0, pad_w, 0, pad_h), mode='replicate')
        ycbcr = _mix_channels(RGB_TO_YCBCR, image)  # Cb, Cr centred on 0
        luma_tables = quantization_tables(self.luma_table.to(x.device), quality)
        luma = self._code(ycbcr[:, :1] - LEVEL_SHIFT, luma_tables) + LEVEL_SHIFT
        chroma = self._code(F.avg_pool2d(ycbcr[:, 1:], 2), quantization_tables(self.chroma_table.to(x.device), quality))
        rgb = _mix_channels(YCBCR_TO_RGB, torch.cat([luma, _upsample_chroma(chroma)], 1))
        return (rgb[:, :, :h, :w].clamp(0, 255) / 255.).to(x.dtype)

    def _code(self, planes: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
        """Quantise the 8x8 DCT of every block of the level-shifted ``planes`` (B, C, H, W; H and W multiples of 8)
        with the (B, 8, 8) ``tables``, and transform back."""
        b, c, h, w = planes.shape
        dct = self.dct.to(planes.device)
        blocks = planes.view(b, c, h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(3, 4).reshape(b, -1, BLOCK**2)
        coefficients = blocks @ dct.T
        table = tables.view(b, 1, BLOCK**2)
        blocks = (self.rounding(coefficients / table) * table) @ dct
        return blocks.view(b, c, h // BLOCK, w // BLOCK, BLOCK, BLOCK).transpose(3, 4).reshape(b, c, h, w)
