"""Utilities shared by every part of the framework (no dependency on networks, data or models).

The names BasicSR 1.4.2 exports from ``basicsr.utils`` (``from basicsr.utils import img2tensor``) are imported on
first use: every module of the package imports this one, so it must stay light (``import basicsr.utils.options``
does not load OpenCV or the logger) and free of import cycles.
"""
import importlib
from typing import Any

_LAZY_EXPORTS = {
    **dict.fromkeys(('bgr2ycbcr', 'rgb2ycbcr', 'rgb2ycbcr_pt', 'ycbcr2bgr', 'ycbcr2rgb'), 'basicsr.utils.color_util'),
    'DiffJPEG': 'basicsr.utils.diffjpeg',
    'FileClient': 'basicsr.utils.file_client',
    **dict.fromkeys(('USMSharp', 'usm_sharp'), 'basicsr.utils.img_process_util'),
    **dict.fromkeys(('crop_border', 'imfrombytes', 'img2tensor', 'imwrite', 'tensor2img'), 'basicsr.utils.img_util'),
    **dict.fromkeys(('AvgTimer', 'MessageLogger', 'get_env_info', 'get_root_logger', 'init_tb_logger',
                     'init_wandb_logger'), 'basicsr.utils.logger'),
    **dict.fromkeys(('check_resume', 'get_time_str', 'make_exp_dirs', 'mkdir_and_rename', 'scandir',
                     'set_random_seed', 'sizeof_fmt'), 'basicsr.utils.misc'),
}

__all__ = list(_LAZY_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _LAZY_EXPORTS:
        value = getattr(importlib.import_module(_LAZY_EXPORTS[name]), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module 'basicsr.utils' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_EXPORTS})
