"""Optimisers. Every ``*_optim.py`` file here is imported so that its optimisers register under their class names:
``torch.optim`` always; ``schedulefree``, ``pytorch-optimizer`` and ``prodigyopt`` when installed
(``pip install 'basicsr[optim]'``). :mod:`basicsr.optimizers.mode` switches schedule-free optimisers between their
training and evaluation weights.
"""
from basicsr.optimizers.mode import eval_weights, eval_weights_read_only, train_weights, uses_eval_weights
from basicsr.utils.registry import OPTIMIZER_REGISTRY, import_modules

import_modules(__file__, __name__, '_optim')

__all__ = ['OPTIMIZER_REGISTRY', 'eval_weights', 'eval_weights_read_only', 'train_weights', 'uses_eval_weights']
