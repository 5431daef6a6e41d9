"""BasicSR 1.3's module path of the losses (``from basicsr.losses.losses import L1Loss``), kept for plug-ins
written against it."""
from basicsr.losses.basic_loss import (LOSS_REGISTRY, CharbonnierLoss, L1Loss, MSELoss, PerceptualLoss,
                                       VGGFeatureExtractor, WeightedTVLoss, charbonnier_loss, l1_loss, mse_loss,
                                       weighted_loss)
from basicsr.losses.gan_loss import GANLoss

__all__ = ['L1Loss', 'MSELoss', 'CharbonnierLoss', 'WeightedTVLoss', 'PerceptualLoss', 'GANLoss', 'VGGFeatureExtractor',
           'l1_loss', 'mse_loss', 'charbonnier_loss', 'weighted_loss', 'LOSS_REGISTRY']
