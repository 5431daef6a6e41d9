"""BasicSR's helpers for writing element-wise losses (``@weighted_loss``), over :func:`pixel_loss.reduce_loss`."""
import functools
from typing import Callable

import torch

from basicsr.losses.pixel_loss import Reduction
from basicsr.losses.pixel_loss import reduce_loss as _reduce

_REDUCTIONS = ('none', 'mean', 'sum')


def reduce_loss(loss: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    """``loss`` unchanged (``'none'``), averaged or summed."""
    return weight_reduce_loss(loss, None, reduction)


def weight_reduce_loss(loss: torch.Tensor, weight: torch.Tensor | None = None,
                       reduction: Reduction = 'mean') -> torch.Tensor:
    """``loss * weight`` reduced; with ``'mean'`` the sum is divided by the total weight (over channels when the
    weight has one channel), as BasicSR does."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}, got '{reduction}'.")
    return _reduce(loss, weight, reduction)


def weighted_loss(loss_func: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Turn ``loss_func(pred, target, **kwargs)``, an element-wise loss, into
    ``f(pred, target, weight=None, reduction='mean', **kwargs)``."""

    @functools.wraps(loss_func)
    def wrapper(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                reduction: Reduction = 'mean', **kwargs) -> torch.Tensor:
        return weight_reduce_loss(loss_func(pred, target, **kwargs), weight, reduction)

    return wrapper
