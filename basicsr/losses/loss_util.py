"""BasicSR's helpers for writing element-wise losses (``@weighted_loss``), over :func:`pixel_loss.reduce_loss`;
``@full_precision`` for losses that must not run under autocast."""
import functools
from typing import Any, Callable

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


def full_precision(forward: Callable[..., Any]) -> Callable[..., Any]:
    """Run a loss's ``forward`` outside autocast, its float16/bfloat16 tensor arguments cast to float32: for losses
    whose arithmetic (variances, SSIM's small constants, FFTs, colour conversions) half precision would spoil."""

    def to_float32(value: Any) -> Any:
        is_half = isinstance(value, torch.Tensor) and value.dtype in (torch.float16, torch.bfloat16)
        return value.float() if is_half else value

    @functools.wraps(forward)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        device = next((a.device for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None)
        with torch.autocast(device.type if device else 'cpu', enabled=False):
            return forward(self, *map(to_float32, args), **{k: to_float32(v) for k, v in kwargs.items()})

    return wrapper
