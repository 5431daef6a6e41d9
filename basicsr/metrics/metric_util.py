"""Input preparation shared by the metrics."""
import numpy as np
import torch

from basicsr.utils.matlab_functions import bgr2ycbcr

_INPUT_ORDERS = ('HWC', 'CHW')


def reorder_image(img: np.ndarray, input_order: str = 'HWC') -> np.ndarray:
    """Return ``img`` as HWC; a 2-D (HW) image gets a trailing channel axis."""
    if input_order not in _INPUT_ORDERS:
        raise ValueError(f"input_order must be one of {_INPUT_ORDERS}, got '{input_order}'.")
    if img.ndim == 2:
        return img[..., None]
    if input_order == 'CHW':
        return img.transpose(1, 2, 0)
    return img


def to_y_channel(img: np.ndarray) -> np.ndarray:
    """[0, 255] BGR HWC image -> float Y of BT.601 YCbCr on the 0-255 scale (HW1), not rounded.

    Images that do not have 3 channels are returned as float32 unchanged.
    """
    img = img.astype(np.float32) / 255.
    if img.ndim == 3 and img.shape[2] == 3:
        img = bgr2ycbcr(img, y_only=True)[..., None]
    return img * 255.


def quantize_tensor(img: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to the 8-bit grid: the image as saved to PNG, which metrics are defined on."""
    return (img.detach().float().clamp(0, 1) * 255.).round() / 255.
