"""Colour (chroma) loss: compares only the BT.601 Cb and Cr channels, averaged over ``scale x scale`` blocks, so it
pulls the colours of the output towards the target's without constraining luminance or fine detail (as
traiNNer-redux's ``ColorLoss``)."""
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.losses.loss_util import full_precision
from basicsr.losses.pixel_loss import PixelCriterion, pixel_criterion
from basicsr.utils.matlab_functions import rgb2ycbcr_pt
from basicsr.utils.registry import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class ColorLoss(nn.Module):
    """``loss_weight * criterion(pool(CbCr(x)), pool(CbCr(y)))``, CbCr in [0, 1] (BasicSR's ``rgb2ycbcr_pt``).

    Args:
        loss_weight: weight of the term.
        criterion: ``l1``, ``l2`` or ``charbonnier``.
        scale: side of the averaged blocks (1: per pixel). A trailing part of the image smaller than a block is
            left out.
    """

    def __init__(self, loss_weight: float = 1.0, criterion: PixelCriterion = 'l1', scale: int = 4) -> None:
        super().__init__()
        if scale < 1:
            raise ValueError(f'scale must be >= 1, got {scale}.')
        self.loss_weight = loss_weight
        self.criterion = pixel_criterion(criterion)
        self.scale = scale

    def _chroma(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(rgb2ycbcr_pt(x)[:, 1:], self.scale)

    @full_precision
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * self.criterion(self._chroma(pred), self._chroma(target))
