"""MATLAB-compatible bicubic resizing and ITU-R BT.601 colour conversions (BasicSR 1.4.2 semantics).

``imresize`` has two independent implementations that share only :func:`calculate_weights_indices`:
a numpy one (explicit symmetric padding, float64 accumulation) and a torch one (indices mirrored into the image,
the input's precision, any device, batched). The test-suite checks them against each other.
"""
import math
from typing import TypeVar

import numpy as np
import torch

_KERNEL_WIDTH = 4  # support of MATLAB's cubic kernel, in input pixels

# ITU-R BT.601 ("MATLAB rgb2ycbcr") for R, G, B in [0, 1]; output Y, Cb, Cr on the 0-255 scale.
_RGB2YCBCR = np.array([[65.481, -37.797, 112.0], [128.553, -74.203, -93.786], [24.966, 112.0, -18.214]])
_YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
# Y = R * w_r + G * w_g + B * w_b + offset, for RGB in [0, 1] and Y on the 0-255 scale (Python floats)
BT601_Y_WEIGHTS = tuple(float(w) for w in _RGB2YCBCR[:, 0])
BT601_Y_OFFSET = float(_YCBCR_OFFSET[0])
# Inverse conversion as MATLAB's ycbcr2rgb writes it (both sides on the 0-255 scale).
_YCBCR2RGB = np.array([[0.00456621, 0.00456621, 0.00456621], [0, -0.00153632, 0.00791071],
                       [0.00625893, -0.00318811, 0]]) * 255.0
_YCBCR2RGB_OFFSET = np.array([-222.921, 135.576, -276.836])

ImageT = TypeVar('ImageT', np.ndarray, torch.Tensor)


def cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's bicubic kernel (a = -0.5), zero outside [-2, 2]."""
    absx = np.abs(x)
    absx2, absx3 = absx**2, absx**3
    inner = (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1)
    outer = (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * ((absx > 1) & (absx <= 2))
    return inner + outer


def calculate_weights_indices(in_length: int, out_length: int, scale: float,
                              antialiasing: bool) -> tuple[np.ndarray, np.ndarray]:
    """Interpolation weights and source indices for resizing one axis from ``in_length`` to ``out_length``.

    Returns ``(weights, indices)``, both of shape (out_length, taps): output pixel ``i`` is
    ``sum_k weights[i, k] * src[indices[i, k]]``. Weights are float64 and each row sums to 1. Indices are 0-based
    and may fall outside ``[0, in_length)``; the caller resolves them with symmetric (edge-including) mirroring.
    """
    kernel_width = float(_KERNEL_WIDTH)
    antialias = scale < 1 and antialiasing
    if antialias:  # stretch the kernel so that it low-pass filters as it interpolates
        kernel_width /= scale
    # 1-based output coordinates mapped back so that pixel centres line up, as MATLAB does.
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    distance = u[:, None] - indices
    weights = scale * cubic(distance * scale) if antialias else cubic(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    # The first and last taps are (up to rounding) outside the kernel's support; BasicSR drops such a column
    # as soon as it holds an exact zero.
    keep = slice(1 if np.any(weights[:, 0] == 0) else 0, taps - 1 if np.any(weights[:, -1] == 0) else taps)
    return np.ascontiguousarray(weights[:, keep]), indices[:, keep].astype(np.int64) - 1


def imresize(img: ImageT, scale: float, antialiasing: bool = True) -> ImageT:
    """Resize like MATLAB's ``imresize(img, scale, 'bicubic')``.

    Args:
        img: numpy HWC / HW array, or torch tensor (..., H, W), e.g. CHW, HW or NCHW, on any device.
        scale: the same factor for height and width; output size is ``ceil(in * scale)``.
        antialiasing: widen the kernel when downscaling (MATLAB's default).

    Returns:
        The resized image, in the input's layout and (floating) dtype; integer input gives float32.
        Values are neither rounded nor clipped. No gradient is tracked.
    """
    if not scale > 0:
        raise ValueError(f'imresize: scale must be positive, got {scale}.')
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f'imresize: numpy input must be HW or HWC, got shape {img.shape}.')
        return _imresize_numpy(img, scale, antialiasing)
    if isinstance(img, torch.Tensor):
        if img.dim() < 2:
            raise ValueError(f'imresize: tensor input must have at least 2 dims (..., H, W), got {tuple(img.shape)}.')
        return _imresize_torch(img, scale, antialiasing)
    raise TypeError(f'imresize: expected a numpy array or torch tensor, got {type(img).__name__}.')


def _axis_weights(in_length: int, scale: float, antialiasing: bool) -> tuple[np.ndarray, np.ndarray]:
    return calculate_weights_indices(in_length, math.ceil(in_length * scale), scale, antialiasing)


def _imresize_numpy(img: np.ndarray, scale: float, antialiasing: bool) -> np.ndarray:
    out = img.astype(np.float64)
    for axis in (0, 1):  # H first, then W
        weights, indices = _axis_weights(img.shape[axis], scale, antialiasing)
        out = _resize_axis_numpy(out, axis, weights, indices)
    out_dtype = img.dtype if np.issubdtype(img.dtype, np.floating) else np.float32
    return out.astype(out_dtype)


def _resize_axis_numpy(img: np.ndarray, axis: int, weights: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Pad ``axis`` symmetrically so every index is valid, then accumulate the taps one at a time."""
    length = img.shape[axis]
    before, after = max(0, -indices.min()), max(0, indices.max() - (length - 1))
    pad = [(0, 0)] * img.ndim
    pad[axis] = (before, after)
    padded = np.moveaxis(np.pad(img, pad, mode='symmetric'), axis, 0)
    indices = indices + before
    out = np.zeros((weights.shape[0], ) + padded.shape[1:])
    broadcast = (weights.shape[0], ) + (1, ) * (padded.ndim - 1)
    for k in range(weights.shape[1]):  # a handful of kernel taps, each over the whole image
        out += weights[:, k].reshape(broadcast) * padded[indices[:, k]]
    return np.moveaxis(out, 0, axis)


def _mirror_indices(indices: np.ndarray, length: int) -> np.ndarray:
    """Map any integer index into [0, length) by symmetric mirroring that repeats the edge pixel."""
    period = np.mod(indices, 2 * length)
    return np.where(period < length, period, 2 * length - 1 - period)


@torch.no_grad()
def _imresize_torch(img: torch.Tensor, scale: float, antialiasing: bool) -> torch.Tensor:
    work_dtype = img.dtype if img.dtype in (torch.float32, torch.float64) else torch.float32
    height, width = img.shape[-2:]
    out = _resize_rows_torch(img.to(work_dtype), *_axis_weights(height, scale, antialiasing))  # H first
    # then W, as rows of the transposed image: gathering whole rows is much faster than gathering columns
    out = _resize_rows_torch(out.transpose(-1, -2).contiguous(), *_axis_weights(width, scale, antialiasing))
    out = out.transpose(-1, -2).contiguous()
    return out.to(img.dtype) if img.dtype.is_floating_point else out


def _resize_rows_torch(img: torch.Tensor, weights: np.ndarray, indices: np.ndarray) -> torch.Tensor:
    """Resize dim -2 as a weighted sum, one kernel tap at a time, of rows gathered at mirrored indices.

    Element-wise multiply-adds rather than a matmul, so that TF32 matmul settings on GPUs cannot degrade the result.
    """
    w = torch.from_numpy(weights).to(device=img.device, dtype=img.dtype)
    index = torch.from_numpy(_mirror_indices(indices, img.shape[-2])).to(img.device)
    out = img.index_select(-2, index[:, 0]).mul_(w[:, 0, None])
    for k in range(1, index.shape[1]):
        out.addcmul_(img.index_select(-2, index[:, k]), w[:, k, None])
    return out


def _to_unit_float(img: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] or float [0, 1] -> float32 (float64 stays float64) in [0, 1]."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.
    if img.dtype in (np.float32, np.float64):
        return img
    raise TypeError(f'Colour conversion expects a uint8 [0, 255] or float32/float64 [0, 1] image, got {img.dtype}.')


def _from_255_scale(img: np.ndarray, dst_type: np.dtype) -> np.ndarray:
    """0-255-scale result -> the input's type and range: uint8 is rounded (and clipped), float maps to [0, 1]."""
    if dst_type == np.uint8:
        return img.round().clip(0, 255).astype(np.uint8)
    return (img / 255.).astype(dst_type)


def _rgb_to_ycbcr(img: np.ndarray, weights: np.ndarray, y_only: bool) -> np.ndarray:
    """``weights`` rows follow the input's channel order; columns are Y, Cb, Cr."""
    unit = _to_unit_float(img)
    if y_only:
        out = np.dot(unit, weights[:, 0]) + _YCBCR_OFFSET[0]
    else:
        out = np.matmul(unit, weights) + _YCBCR_OFFSET
    return _from_255_scale(out, img.dtype)


def rgb2ycbcr(img: np.ndarray, y_only: bool = False) -> np.ndarray:
    """RGB HWC image -> BT.601 YCbCr like MATLAB's ``rgb2ycbcr`` (not OpenCV's JPEG YCrCb).

    uint8 input gives rounded uint8 output (Y in [16, 235]); float input in [0, 1] gives float in [0, 1].
    With ``y_only`` the result is HW.
    """
    return _rgb_to_ycbcr(img, _RGB2YCBCR, y_only)


def bgr2ycbcr(img: np.ndarray, y_only: bool = False) -> np.ndarray:
    """BGR version of :func:`rgb2ycbcr`."""
    return _rgb_to_ycbcr(img, _RGB2YCBCR[::-1], y_only)


def _ycbcr_to_rgb(img: np.ndarray, bgr: bool) -> np.ndarray:
    out = np.matmul(_to_unit_float(img) * 255., _YCBCR2RGB) + _YCBCR2RGB_OFFSET
    if bgr:
        out = out[..., ::-1]
    return _from_255_scale(out, img.dtype)


def ycbcr2rgb(img: np.ndarray) -> np.ndarray:
    """BT.601 YCbCr HWC image -> RGB like MATLAB's ``ycbcr2rgb``; same type conventions as :func:`rgb2ycbcr`."""
    return _ycbcr_to_rgb(img, bgr=False)


def ycbcr2bgr(img: np.ndarray) -> np.ndarray:
    """BGR version of :func:`ycbcr2rgb`."""
    return _ycbcr_to_rgb(img, bgr=True)


def rgb2ycbcr_pt(img: torch.Tensor, y_only: bool = False) -> torch.Tensor:
    """NCHW RGB tensor in [0, 1] -> BT.601 YCbCr in [0, 1] (N1HW with ``y_only``), in the input's dtype.

    Written as element-wise weighted sums rather than a matmul so that TF32 cannot reduce its precision.
    """
    if img.dim() != 4 or img.shape[1] != 3:
        raise ValueError(f'rgb2ycbcr_pt expects an (N, 3, H, W) RGB tensor, got shape {tuple(img.shape)}.')
    channels = []
    for c in range(1 if y_only else 3):
        w_r, w_g, w_b = (float(w) for w in _RGB2YCBCR[:, c])  # Python floats: no numpy/tensor mixing
        channel = img[:, 0:1] * w_r
        channel.add_(img[:, 1:2], alpha=w_g).add_(img[:, 2:3], alpha=w_b).add_(float(_YCBCR_OFFSET[c]))
        channels.append(channel.div_(255.))
    return channels[0] if y_only else torch.cat(channels, dim=1)
