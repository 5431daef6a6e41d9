"""BasicSR 1.4's module path of the pixel and perceptual losses (``from basicsr.losses.basic_loss import L1Loss``)."""
from basicsr.losses.perceptual_loss import PerceptualLoss
from basicsr.losses.pixel_loss import CharbonnierLoss, L1Loss, MSELoss, WeightedTVLoss

__all__ = ['L1Loss', 'MSELoss', 'CharbonnierLoss', 'WeightedTVLoss', 'PerceptualLoss']
