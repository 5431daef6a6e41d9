"""Learning-rate schedules as closed-form functions of the iteration.

Each schedule sets ``lr = initial_lr * factor(iteration)`` on its optimiser's groups. Being a pure function of
the iteration, a resumed run needs no scheduler history: ``step_to(saved_iter)`` restores it exactly.
BasicSR's option keys and semantics (including restarts) are kept.
"""
import bisect
import itertools
import math
from typing import Any

from torch.optim import Optimizer

from basicsr.utils.registry import SCHEDULER_REGISTRY


def get_position_from_periods(iteration: int, cumulative_period: list[int]) -> int:
    """The index of the first cycle whose cumulative end is >= ``iteration`` (BasicSR's helper; past the last
    cycle it is ``len(cumulative_period)``)."""
    return bisect.bisect_left(cumulative_period, iteration)


class LRSchedule:
    """Base class: subclasses define :meth:`lr_at`."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault('initial_lr', group['lr'])
        self.last_iter = 0

    def lr_at(self, initial_lr: float, iteration: int) -> float:
        raise NotImplementedError

    def step_to(self, iteration: int, warmup_iter: int = -1) -> None:
        """Set the learning rates for ``iteration``; during a warm-up they ramp up linearly from 0."""
        self.last_iter = iteration
        warm = iteration / warmup_iter if 0 < iteration < warmup_iter else 1.0
        for group in self.optimizer.param_groups:
            group['lr'] = self.lr_at(group['initial_lr'], iteration) * warm

    def state_dict(self) -> dict[str, Any]:
        return {'last_iter': self.last_iter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_to(state['last_iter'])


@SCHEDULER_REGISTRY.register(name='MultiStepLR')
@SCHEDULER_REGISTRY.register()
class MultiStepRestartLR(LRSchedule):
    """Multiply by ``gamma`` at each milestone; at a restart go back to ``initial_lr * restart_weight``.

    Milestones count from the latest restart at or before the iteration (as in BasicSR).
    """

    def __init__(self, optimizer: Optimizer, milestones: list[int], gamma: float = 0.1,
                 restarts: list[int] | None = None, restart_weights: list[float] | None = None) -> None:
        restarts = list(restarts or [0])
        restart_weights = list(restart_weights or [1.0] * len(restarts))
        if len(restarts) != len(restart_weights):
            raise ValueError(f'restarts ({len(restarts)}) and restart_weights ({len(restart_weights)}) '
                             'must have the same length.')
        pairs = sorted(zip(restarts, restart_weights))
        self.restarts, self.restart_weights = [p[0] for p in pairs], [p[1] for p in pairs]
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, initial_lr: float, iteration: int) -> float:
        latest = bisect.bisect_right(self.restarts, iteration) - 1
        start, weight = (self.restarts[latest], self.restart_weights[latest]) if latest >= 0 else (0, 1.0)
        passed = bisect.bisect_right(self.milestones, iteration) - bisect.bisect_right(self.milestones, start)
        return initial_lr * weight * self.gamma**passed


@SCHEDULER_REGISTRY.register()
class CosineAnnealingRestartLR(LRSchedule):
    """Cosine annealing down to ``eta_min`` over each period, then a restart (BasicSR's formula: the cycle's
    ``restart_weight`` scales ``initial_lr - eta_min``). After the last period the rate stays at ``eta_min``.

    Args:
        periods: length of each cycle, e.g. ``[250000, 250000, 250000, 250000]``.
        restart_weights: peak of each cycle relative to the initial learning rate.
        eta_min: the floor.
    """

    def __init__(self, optimizer: Optimizer, periods: list[int], restart_weights: list[float] | None = None,
                 eta_min: float = 0.0) -> None:
        restart_weights = list(restart_weights or [1.0] * len(periods))
        if len(periods) != len(restart_weights):
            raise ValueError(f'periods ({len(periods)}) and restart_weights ({len(restart_weights)}) '
                             'must have the same length.')
        self.periods, self.restart_weights, self.eta_min = list(periods), restart_weights, eta_min
        self.cumulative = list(itertools.accumulate(periods))
        super().__init__(optimizer)

    def lr_at(self, initial_lr: float, iteration: int) -> float:
        cycle = min(get_position_from_periods(iteration, self.cumulative), len(self.periods) - 1)
        start = self.cumulative[cycle - 1] if cycle else 0
        progress = min((iteration - start) / self.periods[cycle], 1.0)
        weight = self.restart_weights[cycle]
        return self.eta_min + weight * 0.5 * (initial_lr - self.eta_min) * (1 + math.cos(math.pi * progress))


@SCHEDULER_REGISTRY.register()
class LinearDecayLR(LRSchedule):
    """Constant until iteration ``start``, then a straight line down to ``eta_min`` at iteration ``end``, where it
    stays (DSGAN's schedule: constant for the first half of training, linear to zero over the second).
    """

    def __init__(self, optimizer: Optimizer, start: int, end: int, eta_min: float = 0.0) -> None:
        if not 0 <= start < end:
            raise ValueError(f'need 0 <= start < end, got start {start} and end {end}.')
        self.start, self.end, self.eta_min = start, end, eta_min
        super().__init__(optimizer)

    def lr_at(self, initial_lr: float, iteration: int) -> float:
        progress = min(max(iteration - self.start, 0) / (self.end - self.start), 1.0)
        return initial_lr + (self.eta_min - initial_lr) * progress
