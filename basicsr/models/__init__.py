"""Models (training recipes). Every ``*_model.py`` file here is imported so its models register."""
from typing import Any

import basicsr.optimizers  # noqa: F401  (registers the optimisers)
from basicsr.models import lr_scheduler  # noqa: F401  (registers the schedules)
from basicsr.models.base_model import BaseModel
from basicsr.utils.logger import get_root_logger
from basicsr.utils.misc import scandir  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.registry import MODEL_REGISTRY, import_modules

import_modules(__file__, __name__, '_model')


def build_model(opt: dict[str, Any]) -> BaseModel:
    """The model ``opt['model_type']`` names, built from the whole option dict."""
    model = MODEL_REGISTRY.get(opt['model_type'], key_path='model_type')(opt)
    get_root_logger().info(f'Model [{model.__class__.__name__}] is created.')
    return model


__all__ = ['build_model', 'BaseModel', 'MODEL_REGISTRY']
