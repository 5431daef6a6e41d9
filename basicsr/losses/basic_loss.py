"""BasicSR 1.4's module path of the pixel and perceptual losses (``from basicsr.losses.basic_loss import L1Loss``),
with its functional forms ``l1_loss``/``mse_loss``/``charbonnier_loss`` (the loss classes with ``loss_weight`` 1)."""
import torch

from basicsr.archs.vgg_arch import VGGFeatureExtractor
from basicsr.losses.loss_util import weighted_loss
from basicsr.losses.perceptual_loss import PerceptualLoss
from basicsr.losses.pixel_loss import CharbonnierLoss, L1Loss, MSELoss, Reduction, WeightedTVLoss
from basicsr.utils.registry import LOSS_REGISTRY


def l1_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
            reduction: Reduction = 'mean') -> torch.Tensor:
    """``|pred - target|``, weighted and reduced as :class:`L1Loss` does."""
    return L1Loss(reduction=reduction)(pred, target, weight)


def mse_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
             reduction: Reduction = 'mean') -> torch.Tensor:
    """``(pred - target)^2``, weighted and reduced as :class:`MSELoss` does."""
    return MSELoss(reduction=reduction)(pred, target, weight)


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                     reduction: Reduction = 'mean', eps: float = 1e-12) -> torch.Tensor:
    """``sqrt((pred - target)^2 + eps)``, weighted and reduced as :class:`CharbonnierLoss` does."""
    return CharbonnierLoss(reduction=reduction, eps=eps)(pred, target, weight)


__all__ = ['L1Loss', 'MSELoss', 'CharbonnierLoss', 'WeightedTVLoss', 'PerceptualLoss', 'VGGFeatureExtractor',
           'l1_loss', 'mse_loss', 'charbonnier_loss', 'weighted_loss', 'LOSS_REGISTRY']
