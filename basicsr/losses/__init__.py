"""Losses. Every ``*_loss.py`` file here is imported so its ``@LOSS_REGISTRY.register()`` classes are found."""
import copy
from typing import Any

from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY, import_modules

import_modules(__file__, __name__, '_loss')


def build_loss(opt: dict[str, Any], key_path: str = 'train.pixel_opt') -> nn.Module:
    """Build the loss an option section (``{'type': 'L1Loss', 'loss_weight': 1.0}``) describes."""
    return LOSS_REGISTRY.build(copy.deepcopy(opt), key_path)


__all__ = ['build_loss', 'LOSS_REGISTRY']
