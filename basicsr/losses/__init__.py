"""Losses. Every ``*_loss.py`` file here is imported so its ``@LOSS_REGISTRY.register()`` classes are found."""
import copy
from typing import Any

from torch import nn

from basicsr.utils.logger import get_root_logger  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.misc import scandir  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.registry import LOSS_REGISTRY, import_modules

import_modules(__file__, __name__, '_loss')

# BasicSR 1.3 exported its losses from the package
from basicsr.losses.gan_loss import GANLoss  # noqa: E402,F401
from basicsr.losses.perceptual_loss import PerceptualLoss  # noqa: E402,F401
from basicsr.losses.pixel_loss import CharbonnierLoss, L1Loss, MSELoss, WeightedTVLoss  # noqa: E402,F401


def build_loss(opt: dict[str, Any], key_path: str = 'train.pixel_opt') -> nn.Module:
    """Build the loss an option section (``{'type': 'L1Loss', 'loss_weight': 1.0}``) describes."""
    return LOSS_REGISTRY.build(copy.deepcopy(opt), key_path)


__all__ = ['build_loss', 'LOSS_REGISTRY']
