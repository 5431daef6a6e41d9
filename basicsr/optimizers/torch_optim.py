"""Every optimiser of ``torch.optim`` by its class name (``train.optim_g.type: AdamW``)."""
import inspect

import torch

from basicsr.utils.registry import OPTIMIZER_REGISTRY

# What a step of these needs beyond dense gradients of parameters of any shape (the tests read it).
_REQUIRES = {'LBFGS': 'closure', 'SparseAdam': 'sparse_gradients', 'Muon': 'matrix_parameters'}

for _name, _cls in vars(torch.optim).items():
    if inspect.isclass(_cls) and issubclass(_cls, torch.optim.Optimizer) and _cls is not torch.optim.Optimizer:
        OPTIMIZER_REGISTRY.register(_cls, name=_name, package='torch', requires=_REQUIRES.get(_name))
