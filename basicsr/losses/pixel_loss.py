"""Pixel-wise losses: L1, MSE and Charbonnier, each with ``loss_weight``, ``reduction`` and optional weight maps;
total variation (BasicSR's ``WeightedTVLoss``)."""
from typing import Literal

import torch
from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY

Reduction = Literal['none', 'mean', 'sum']


def reduce_loss(loss: torch.Tensor, weight: torch.Tensor | None, reduction: Reduction) -> torch.Tensor:
    """Apply an element-wise ``weight`` (broadcast over channels if it has one) and reduce.

    With a weight and ``mean``, the sum is divided by the total weight, so masked-out pixels do not dilute it.
    """
    if weight is not None:
        loss = loss * weight
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if weight is None:
        return loss.mean()
    total = weight.sum() * (loss.size(1) if weight.size(1) == 1 else 1)
    return loss.sum() / total.clamp_min(1e-12)


class _PixelLoss(nn.Module):

    def __init__(self, loss_weight: float = 1.0, reduction: Reduction = 'mean') -> None:
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got '{reduction}'.")
        self.loss_weight = loss_weight
        self.reduction = reduction

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return self.loss_weight * reduce_loss(self.elementwise(pred, target), weight, self.reduction)


@LOSS_REGISTRY.register()
class L1Loss(_PixelLoss):
    """Mean absolute error."""

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).abs()


@LOSS_REGISTRY.register()
class MSELoss(_PixelLoss):
    """Mean squared error."""

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).square()


@LOSS_REGISTRY.register()
class CharbonnierLoss(_PixelLoss):
    """``sqrt((pred - target)^2 + eps)``: a differentiable L1 (as BasicSR defines it, eps is not squared)."""

    def __init__(self, loss_weight: float = 1.0, reduction: Reduction = 'mean', eps: float = 1e-12) -> None:
        super().__init__(loss_weight, reduction)
        self.eps = eps

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((pred - target).square() + self.eps)


@LOSS_REGISTRY.register()
class WeightedTVLoss(L1Loss):
    """Total variation: the L1 differences between vertical neighbours plus those between horizontal neighbours,
    each pair weighted by ``weight`` (if given) at its first pixel. ``reduction`` is per direction.

    Not a loss term of ``train.losses``: it takes the output and a weight map, not a target image."""

    compares_with_target = False

    def __init__(self, loss_weight: float = 1.0, reduction: Literal['mean', 'sum'] = 'mean') -> None:
        if reduction not in ('mean', 'sum'):
            raise ValueError(f"reduction must be 'mean' or 'sum' for WeightedTVLoss, got '{reduction}'.")
        super().__init__(loss_weight, reduction)

    def forward(self, pred: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        vertical = super().forward(pred[..., :-1, :], pred[..., 1:, :], None if weight is None else weight[..., :-1, :])
        horizontal = super().forward(pred[..., :-1], pred[..., 1:], None if weight is None else weight[..., :-1])
        return vertical + horizontal


PixelCriterion = Literal['l1', 'l2', 'charbonnier']


def pixel_criterion(name: PixelCriterion, reduction: Reduction = 'mean') -> _PixelLoss:
    """The unweighted pixel loss a ``criterion`` option names (``l2`` is the mean squared error), as the colour,
    luma, HSLuv, LDL and gradient-variance losses take it (traiNNer-redux's names)."""
    criteria = {'l1': L1Loss, 'l2': MSELoss, 'charbonnier': CharbonnierLoss}
    if name not in criteria:
        raise ValueError(f"criterion must be one of {', '.join(criteria)}, got '{name}'.")
    return criteria[name](reduction=reduction)
