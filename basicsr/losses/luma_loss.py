"""Luma loss: compares perceived lightness only, CIE L* of the sRGB luminance, on a [0, 1] scale (as
traiNNer-redux's and neosr's ``LumaLoss``; L* is HSLuv's lightness, hence the shared conversion)."""
import torch
from torch import nn

from basicsr.losses.hsluv_loss import cie_lightness, srgb_to_xyz
from basicsr.losses.loss_util import full_precision
from basicsr.losses.pixel_loss import PixelCriterion, pixel_criterion
from basicsr.utils.registry import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class LumaLoss(nn.Module):
    """``loss_weight * criterion(L*(x) / 100, L*(y) / 100)``, L* from the linearised sRGB luminance
    ``Y = 0.2126 R + 0.7152 G + 0.0722 B`` (CIE: ``116 Y^(1/3) - 16``, ``903.3 Y`` below ``Y = 0.00886``).

    traiNNer-redux squares Y on the linear segment (``Y * Y * 903.3``), a slip that makes very dark pixels (below
    about 1% luminance) count less; this follows the CIE formula. Values outside [0, 1] are not clamped: they
    continue the curves (negative ones on the linear segments), so the loss still pulls them back.

    Args:
        loss_weight: weight of the term.
        criterion: ``l1``, ``l2`` or ``charbonnier``.
    """

    def __init__(self, loss_weight: float = 1.0, criterion: PixelCriterion = 'l1') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.criterion = pixel_criterion(criterion)

    @staticmethod
    def lightness(x: torch.Tensor) -> torch.Tensor:
        """CIE L* / 100 of NCHW sRGB images, (N, 1, H, W)."""
        return cie_lightness(srgb_to_xyz(x)[:, 1:2]) / 100

    @full_precision
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * self.criterion(self.lightness(pred), self.lightness(target))
