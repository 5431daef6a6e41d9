"""Cutting large images into overlapping sub-images (as BasicSR prepares DIV2K), so training reads small files."""
import numpy as np


def crop_positions(size: int, crop_size: int, step: int, thresh_size: int = 0) -> list[int]:
    """Start offsets of crops along one axis of length ``size``.

    Crops start at 0, step, 2*step, ... while they fit; if the pixels left after the last one number more than
    ``thresh_size``, a last crop flush with the border (starting at ``size - crop_size``) is added. An axis
    shorter than ``crop_size`` gets no crop.
    """
    if crop_size < 1 or step < 1 or thresh_size < 0:
        raise ValueError(f'crop_size and step must be positive and thresh_size >= 0, '
                         f'got {crop_size}, {step}, {thresh_size}.')
    if size < crop_size:
        return []
    starts = list(range(0, size - crop_size + 1, step))
    if size - (starts[-1] + crop_size) > thresh_size:
        starts.append(size - crop_size)
    return starts


def crop_boxes(height: int, width: int, crop_size: int, step: int, thresh_size: int = 0) -> list[tuple[int, int]]:
    """(top, left) of every sub-image in row-major order (the order of the ``_sNNN`` indices)."""
    tops = crop_positions(height, crop_size, step, thresh_size)
    lefts = crop_positions(width, crop_size, step, thresh_size)
    return [(top, left) for top in tops for left in lefts]


def subimages(img: np.ndarray, crop_size: int, step: int, thresh_size: int = 0) -> list[np.ndarray]:
    """The sub-images of ``img`` (HW or HWC) in :func:`crop_boxes` order; sub-image ``i`` is named ``_s{i+1:03d}``."""
    return [img[top:top + crop_size, left:left + crop_size, ...]
            for top, left in crop_boxes(img.shape[0], img.shape[1], crop_size, step, thresh_size)]
