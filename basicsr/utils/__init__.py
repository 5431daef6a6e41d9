"""Utilities shared by every part of the framework (no dependency on networks, data or models)."""
import importlib
from typing import Any

# Names BasicSR exports from ``basicsr.utils``, imported on first use: every module of the package imports this
# one, and these bring in torch.
_LAZY_EXPORTS = {'DiffJPEG': 'basicsr.utils.diffjpeg', 'USMSharp': 'basicsr.utils.img_process_util'}


def __getattr__(name: str) -> Any:
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(_LAZY_EXPORTS[name]), name)
    raise AttributeError(f"module 'basicsr.utils' has no attribute '{name}'")
