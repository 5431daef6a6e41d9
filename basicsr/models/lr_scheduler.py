"""Learning-rate schedules as closed-form functions of the iteration.

Each schedule sets ``lr = initial_lr * factor(iteration)`` on its optimiser's groups. Being a pure function of
the iteration, a resumed run needs no scheduler history: ``step_to(saved_iter)`` restores it exactly.
BasicSR's option keys and semantics (including restarts) are kept.

A warm-up (linear or cosine) can stand in front of any schedule: BasicSR's ``train.warmup_iter`` (linear), or the
schedule's own ``warmup: {iter: N, shape: cosine}`` (see :func:`build_schedule`). It multiplies the schedule's
rate by a factor rising from 0 to 1 over the first ``N`` iterations.
"""
import bisect
import copy
import dataclasses
import itertools
import math
from typing import Any, Literal

from torch.optim import Optimizer

from basicsr.utils.errors import OptionError
from basicsr.utils.option_schema import REQUIRED, SCHEDULER, Key, Section, positive
from basicsr.utils.registry import SCHEDULER_REGISTRY

WarmupShape = Literal['linear', 'cosine']

# The ``warmup`` key of ``train.scheduler`` (read by the framework, not passed to the schedule).
SCHEDULE_WARMUP = Section({
    'iter': Key(int, REQUIRED, positive, doc='iterations over which the rate rises from 0 to the schedule\'s'),
    'shape': Key(WarmupShape, 'linear', doc='linear, or cosine (half a cosine: slow start, slow finish)'),
}, optional=True)
SCHEDULER_WITH_WARMUP = dataclasses.replace(SCHEDULER, keys={**SCHEDULER.keys, 'warmup': SCHEDULE_WARMUP})


def warmup_factor(iteration: int, warmup_iter: int, shape: WarmupShape = 'linear') -> float:
    """The factor on the rate during a warm-up of ``warmup_iter`` iterations: rising from 0 towards 1, and 1 at
    iteration 0 (the rate before training starts, as BasicSR) and from ``warmup_iter`` on."""
    if not 0 < iteration < warmup_iter:
        return 1.0
    progress = iteration / warmup_iter
    return progress if shape == 'linear' else 0.5 * (1 - math.cos(math.pi * progress))


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
        self.warmup_iter, self.warmup_shape = -1, 'linear'  # the schedule's own warm-up (build_schedule sets it)

    def lr_at(self, initial_lr: float, iteration: int) -> float:
        raise NotImplementedError

    def step_to(self, iteration: int, warmup_iter: int = -1) -> None:
        """Set the learning rates for ``iteration``. During the schedule's own warm-up, or else a linear one of
        ``warmup_iter`` iterations (``train.warmup_iter``), they ramp up from 0."""
        self.last_iter = iteration
        if self.warmup_iter > 0:
            warm = warmup_factor(iteration, self.warmup_iter, self.warmup_shape)
        else:
            warm = warmup_factor(iteration, warmup_iter)
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


@SCHEDULER_REGISTRY.register()
class WarmupStableDecayLR(LRSchedule):
    """Warmup-stable-decay (Hu et al., MiniCPM 2024; Hägele et al. 2024): a linear rise from 0 over
    ``num_warmup_steps``, the full rate for ``num_stable_steps``, then a decay to ``min_lr_ratio`` times the rate over
    ``num_decay_steps``, where it stays. The key names are those of ``transformers``' and pytorch-optimizer's
    ``get_wsd_schedule``.

    Args:
        decay_type: the shape of the decay: ``linear``, ``cosine`` (half a cosine) or ``1-sqrt``
            (``1 - sqrt(progress)``, Hägele et al.'s cooldown).
    """

    def __init__(self, optimizer: Optimizer, num_warmup_steps: int, num_stable_steps: int, num_decay_steps: int,
                 min_lr_ratio: float = 0.0, decay_type: Literal['linear', 'cosine', '1-sqrt'] = 'linear') -> None:
        if min(num_warmup_steps, num_stable_steps) < 0 or num_decay_steps <= 0 or not 0 <= min_lr_ratio <= 1:
            raise ValueError('need num_warmup_steps, num_stable_steps >= 0, num_decay_steps > 0 and '
                             f'0 <= min_lr_ratio <= 1, got {num_warmup_steps}, {num_stable_steps}, '
                             f'{num_decay_steps} and {min_lr_ratio}.')
        self.decay_start = num_warmup_steps + num_stable_steps
        self.num_warmup_steps, self.num_decay_steps = num_warmup_steps, num_decay_steps
        self.min_lr_ratio, self.decay_type = min_lr_ratio, decay_type
        super().__init__(optimizer)

    def lr_at(self, initial_lr: float, iteration: int) -> float:
        if iteration < self.num_warmup_steps:
            return initial_lr * iteration / self.num_warmup_steps
        progress = min(max(iteration - self.decay_start, 0) / self.num_decay_steps, 1.0)
        if self.decay_type == 'linear':
            remaining = 1 - progress
        elif self.decay_type == 'cosine':
            remaining = 0.5 * (1 + math.cos(math.pi * progress))
        else:
            remaining = 1 - math.sqrt(progress)
        return initial_lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * remaining)


@SCHEDULER_REGISTRY.register()
class OneCycleLR(LRSchedule):
    """The 1cycle policy (Smith and Topin 2019) with the arguments and values of ``torch.optim.lr_scheduler.
    OneCycleLR``: from ``max_lr / div_factor`` up to ``max_lr`` over the first ``pct_start`` of ``total_steps``, then
    down to ``max_lr / div_factor / final_div_factor`` (with ``three_phase``: back to the start first). Iteration
    ``k`` gets torch's rate after ``k`` steps; after ``total_steps`` the rate of the last step stays.

    Args:
        max_lr: the peak; ``~`` (default) takes the optimiser's ``lr``.
        cycle_momentum: also cycle the momentum (or Adam's beta1) inversely, between ``base_momentum`` and
            ``max_momentum``, as torch does by default.
    """

    def __init__(self, optimizer: Optimizer, total_steps: int, max_lr: float | None = None, pct_start: float = 0.3,
                 anneal_strategy: Literal['cos', 'linear'] = 'cos', cycle_momentum: bool = True,
                 base_momentum: float = 0.85, max_momentum: float = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False) -> None:
        if total_steps <= 0 or not 0 <= pct_start <= 1:
            raise ValueError(f'need total_steps > 0 and 0 <= pct_start <= 1, got {total_steps} and {pct_start}.')
        if cycle_momentum and not {'momentum', 'betas'} & set(optimizer.defaults):
            raise ValueError(f'cycle_momentum: {type(optimizer).__name__} has no momentum or betas to cycle; set '
                             'cycle_momentum: false.')
        self.total_steps, self.max_lr, self.cosine = total_steps, max_lr, anneal_strategy == 'cos'
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self.cycle_momentum, self.momentum_range = cycle_momentum, (base_momentum, max_momentum)
        # (last step of the phase, start, end) with 'start', 'peak', 'min' for rates and 'base', 'max' for momenta
        rise_end = float(pct_start * total_steps) - 1
        if three_phase:
            self.phases = [(rise_end, ('start', 'peak'), ('max', 'base')),
                           (float(2 * pct_start * total_steps) - 2, ('peak', 'start'), ('base', 'max')),
                           (total_steps - 1, ('start', 'min'), ('max', 'max'))]
        else:
            self.phases = [(rise_end, ('start', 'peak'), ('max', 'base')),
                           (total_steps - 1, ('peak', 'min'), ('base', 'max'))]
        super().__init__(optimizer)

    def _phase(self, iteration: int) -> tuple[float, tuple[str, str], tuple[str, str]]:
        """The fraction of the current phase done at ``iteration``, and that phase's rate and momentum ends."""
        step = min(iteration, self.total_steps)
        start = 0.0
        for index, (end, rates, momenta) in enumerate(self.phases):
            if step <= end or index == len(self.phases) - 1:
                return (step - start) / (end - start), rates, momenta
            start = end
        raise AssertionError('unreachable: the last phase takes every step')

    def _anneal(self, start: float, end: float, fraction: float) -> float:
        if self.cosine:
            return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return (end - start) * fraction + start

    def lr_at(self, initial_lr: float, iteration: int) -> float:
        peak = initial_lr if self.max_lr is None else self.max_lr
        start = peak / self.div_factor
        values = {'start': start, 'peak': peak, 'min': start / self.final_div_factor}
        fraction, (first, last), _ = self._phase(iteration)
        return self._anneal(values[first], values[last], fraction)

    def step_to(self, iteration: int, warmup_iter: int = -1) -> None:
        super().step_to(iteration, warmup_iter)
        if not self.cycle_momentum:
            return
        fraction, _, (first, last) = self._phase(iteration)
        values = dict(zip(('base', 'max'), self.momentum_range))
        momentum = self._anneal(values[first], values[last], fraction)
        for group in self.optimizer.param_groups:
            if 'betas' in group:
                group['betas'] = (momentum, *group['betas'][1:])
            else:
                group['momentum'] = momentum


def build_schedule(scheduler_opt: dict[str, Any], optimizer: Optimizer, key_path: str = 'train.scheduler') -> Any:
    """The schedule ``scheduler_opt`` describes (``type`` and its arguments) for ``optimizer``, with the warm-up of
    its ``warmup`` key (:data:`SCHEDULE_WARMUP`) when it has one."""
    arguments = {k: v for k, v in scheduler_opt.items() if k != 'warmup'}
    schedule = SCHEDULER_REGISTRY.build(copy.deepcopy(arguments), key_path, optimizer=optimizer)
    warmup = scheduler_opt.get('warmup')
    if warmup:
        if not isinstance(schedule, LRSchedule):
            raise OptionError(f"{key_path}.warmup: the schedule {scheduler_opt['type']} is not an LRSchedule and "
                              'cannot take a warm-up.', key_path=f'{key_path}.warmup')
        schedule.warmup_iter, schedule.warmup_shape = warmup['iter'], warmup['shape']
    return schedule
