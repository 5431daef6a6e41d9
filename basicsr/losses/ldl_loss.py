"""Locally discriminative learning (Liang, Zeng and Zhang, "Details or Artifacts: A Locally Discriminative Learning
Approach to Realistic Image Super-Resolution", CVPR 2022).

A pixel loss restricted to the pixels an artifact map marks. The map is built as in the authors' code
(csjliang/LDL, ``get_refined_artifact_map``), from the residual ``r = sum_c |gt - output|``:

    M = var(r over the whole image)^(1/5) * var(r over the k x k window around each pixel)   (unbiased variances,
                                                                                               reflected borders)
    M = 0 where the EMA generator's residual sum_c |gt - output_ema| is larger than r

so a pixel counts only where the training generator is worse than its EMA, which is the stable reference of the
paper. The map keeps its gradient, as in the authors' code, with one exception: an image whose residual variance
is below 1e-12 gets the image-level weight (1e-12)^(1/5) and no gradient through it. ``var^(1/5)`` has an infinite
slope at 0, which gives NaN gradients (when the output equals the target, or differs from it by a constant on a
flat image); the map of such an image is negligible anyway, its local variances being tiny too.
"""
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.losses.loss_util import full_precision
from basicsr.losses.pixel_loss import PixelCriterion, pixel_criterion
from basicsr.utils.registry import LOSS_REGISTRY

_MIN_VARIANCE = 1e-12  # see the module docstring


def local_variance(x: torch.Tensor, ksize: int) -> torch.Tensor:
    """Unbiased variance of the ``ksize x ksize`` window around each pixel, borders reflected: (N, C, H, W)."""
    pad = (ksize - 1) // 2
    windows = F.pad(x, (pad, pad, pad, pad), mode='reflect').unfold(2, ksize, 1).unfold(3, ksize, 1)
    return windows.var(dim=(-2, -1))


def artifact_map(output: torch.Tensor, target: torch.Tensor, output_ema: torch.Tensor, ksize: int = 7) -> torch.Tensor:
    """LDL's refined artifact map, (N, 1, H, W) (see the module docstring)."""
    residual = (target - output).abs().sum(dim=1, keepdim=True)
    residual_ema = (target - output_ema).abs().sum(dim=1, keepdim=True)
    image_weight = residual.var(dim=(1, 2, 3), keepdim=True).clamp_min(_MIN_VARIANCE)**0.2
    weight = image_weight * local_variance(residual, ksize)
    return torch.where(residual < residual_ema, torch.zeros_like(weight), weight)


@LOSS_REGISTRY.register()
class LDLLoss(nn.Module):
    """``loss_weight * criterion(M * output, M * target)`` with ``M`` LDL's artifact map.

    Needs the EMA generator's output for the same LQ batch (``output_ema``, supplied by the trainer; the run must
    keep an EMA, ``train.ema_decay > 0``).

    Args:
        loss_weight: weight of the term (the paper's Real-ESRGAN-based recipes use 1.0).
        criterion: ``l1`` (the paper's), ``l2`` or ``charbonnier``.
        ksize: odd size of the local window (7 in the paper).
    """

    extra_inputs: ClassVar[tuple[str, ...]] = ('output_ema', )

    def __init__(self, loss_weight: float = 1.0, criterion: PixelCriterion = 'l1', ksize: int = 7) -> None:
        super().__init__()
        if ksize < 3 or ksize % 2 == 0:
            raise ValueError(f'ksize must be an odd number >= 3, got {ksize}.')
        self.loss_weight = loss_weight
        self.criterion = pixel_criterion(criterion)
        self.ksize = ksize

    @full_precision
    def forward(self, output: torch.Tensor, target: torch.Tensor, *, output_ema: torch.Tensor) -> torch.Tensor:
        weight = artifact_map(output, target, output_ema.detach(), self.ksize)
        return self.loss_weight * self.criterion(weight * output, weight * target)
