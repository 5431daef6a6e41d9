"""Networks. Every ``*_arch.py`` file here is imported so its ``@ARCH_REGISTRY.register()`` classes are found."""
import copy
from typing import Any

from torch import nn

from basicsr.utils.logger import get_root_logger  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.misc import scandir  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.registry import ARCH_REGISTRY, import_modules

import_modules(__file__, __name__, '_arch')


def build_network(opt: dict[str, Any], key_path: str = 'network_g') -> nn.Module:
    """Build the network an option section (``{'type': 'MSRResNet', 'num_feat': 64, ...}``) describes."""
    return ARCH_REGISTRY.build(copy.deepcopy(opt), key_path)


__all__ = ['build_network', 'ARCH_REGISTRY']
