"""BasicSR 1.3's module path of the losses (``from basicsr.losses.losses import L1Loss``), kept for plug-ins
written against it."""
from basicsr.losses.gan_loss import GANLoss
from basicsr.losses.perceptual_loss import PerceptualLoss
from basicsr.losses.pixel_loss import CharbonnierLoss, L1Loss, MSELoss, WeightedTVLoss

__all__ = ['L1Loss', 'MSELoss', 'CharbonnierLoss', 'WeightedTVLoss', 'PerceptualLoss', 'GANLoss']
