"""Every optimiser of ``torch.optim`` is available by its class name (``train.optim_g.type: Adam``)."""
import inspect

import torch

from basicsr.utils.registry import OPTIMIZER_REGISTRY

for _name, _cls in vars(torch.optim).items():
    if inspect.isclass(_cls) and issubclass(_cls, torch.optim.Optimizer) and _cls is not torch.optim.Optimizer:
        OPTIMIZER_REGISTRY.register(_cls, name=_name)
