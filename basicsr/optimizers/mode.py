"""The two sets of weights of schedule-free optimisers (Defazio et al., "The Road Less Scheduled", 2024).

A schedule-free optimiser trains at one point (``y``) and averages into another (``x``), the weights to evaluate,
save and export. Its ``.eval`` switch moves the network's parameters to ``x``, ``.train`` back to ``y``; a training
step taken in evaluation mode is an error. Other optimisers have no such switch, so every function here leaves them alone.

Resume stays bit-exact when everything written at a checkpoint (network and optimiser state) is written inside
:func:`eval_weights` and the resumed run calls :func:`train_weights` after loading: both runs then compute the
training point from the same saved ``x`` in the same way.
"""
import contextlib
from typing import Iterable, Iterator

import torch


def uses_eval_weights(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer`` keeps separate evaluation weights (has the ``.eval`` and ``.train`` switches)."""
    return callable(getattr(optimizer, 'eval', None)) and callable(getattr(optimizer, 'train', None))


def train_weights(optimizers: Iterable[torch.optim.Optimizer]) -> None:
    """Put every optimiser with evaluation weights in train mode (after building it, after loading its state);
    one already in train mode is unchanged."""
    for optimizer in optimizers:
        if uses_eval_weights(optimizer):
            optimizer.train()


@contextlib.contextmanager
def eval_weights(optimizers: Iterable[torch.optim.Optimizer]) -> Iterator[None]:
    """Within the block the parameters of every optimiser with evaluation weights are those weights (for
    validation, EMA, checkpoints, export); afterwards the optimisers are in train mode again."""
    switched = [optimizer for optimizer in optimizers if uses_eval_weights(optimizer)]
    for optimizer in switched:
        optimizer.eval()
    try:
        yield
    finally:
        train_weights(switched)


@contextlib.contextmanager
def eval_weights_read_only(optimizers: Iterable[torch.optim.Optimizer]) -> Iterator[None]:
    """:func:`eval_weights` for a block that only reads the weights (validation): afterwards the training weights
    are put back bit for bit. ``train()`` recomputes them from the evaluation weights with a rounding error, which
    would make a validated run drift from one resumed from the same checkpoint."""
    switched = [optimizer for optimizer in optimizers if uses_eval_weights(optimizer)]
    params = [param for optimizer in switched for group in optimizer.param_groups for param in group['params']]
    training = [param.detach().clone() for param in params]
    with eval_weights(switched):
        yield
    if params:
        with torch.no_grad():
            torch._foreach_copy_(params, training)
