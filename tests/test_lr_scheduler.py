"""Learning-rate schedules against values worked out by hand from BasicSR's definitions."""
import math

import pytest
import torch

from basicsr.models.lr_scheduler import (CosineAnnealingRestartLR, MultiStepRestartLR, OneCycleLR, WarmupStableDecayLR,
                                        build_schedule)
from basicsr.utils.registry import SCHEDULER_REGISTRY


def optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def lrs(schedule, iterations, warmup=-1):
    out = []
    for it in iterations:
        schedule.step_to(it, warmup)
        out.append(schedule.optimizer.param_groups[0]['lr'])
    return out


def test_multistep_with_restart():
    schedule = MultiStepRestartLR(optimizer(), milestones=[3, 6, 6, 9], gamma=0.5, restarts=[0, 7],
                                  restart_weights=[1, 0.8])
    got = lrs(schedule, range(11))
    # 0-2: 1; 3-5: 0.5; 6: x0.25 (milestone 6 counted twice); 7: restart at 0.8; 9: 0.4
    expected = [1, 1, 1, .5, .5, .5, .125, .8, .8, .4, .4]
    assert got == pytest.approx(expected)


def test_cosine_annealing_restart():
    schedule = CosineAnnealingRestartLR(optimizer(2e-4), periods=[10, 10], restart_weights=[1, 0.5], eta_min=1e-7)
    got = lrs(schedule, [0, 5, 10, 11, 15, 20, 30])

    def cos(weight, progress):
        return 1e-7 + weight * 0.5 * (2e-4 - 1e-7) * (1 + math.cos(math.pi * progress))

    expected = [cos(1, 0), cos(1, .5), cos(1, 1), cos(.5, .1), cos(.5, .5), cos(.5, 1), cos(.5, 1)]
    assert got == pytest.approx(expected)


def test_linear_warmup_and_exact_resume():
    schedule = MultiStepRestartLR(optimizer(1e-3), milestones=[8], gamma=0.1)
    assert lrs(schedule, [1, 2, 4, 5, 8], warmup=4) == pytest.approx([2.5e-4, 5e-4, 1e-3, 1e-3, 1e-4])
    state = schedule.state_dict()
    fresh = MultiStepRestartLR(optimizer(1e-3), milestones=[8], gamma=0.1)
    fresh.load_state_dict(state)
    assert fresh.optimizer.param_groups[0]['lr'] == pytest.approx(1e-4)


def _sgd_with_momentum(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)


@pytest.mark.parametrize('three_phase, anneal, make', [
    (False, 'cos', lambda: _sgd_with_momentum(0.1)),
    (True, 'linear', lambda: torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.1, betas=(0.9, 0.99))),
])
def test_one_cycle_matches_torch(three_phase, anneal, make):
    """Iteration k gets torch's rate (and momentum / beta1) after k scheduler steps, for every k up to the end."""
    settings = dict(total_steps=40, pct_start=0.25, anneal_strategy=anneal, div_factor=10.0, final_div_factor=100.0,
                    three_phase=three_phase)
    reference = make()
    torch_schedule = torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=0.1, **settings)
    key = 'betas' if 'betas' in reference.defaults else 'momentum'
    expected = []
    for step in range(41):
        group = reference.param_groups[0]
        expected.append((group['lr'], group[key][0] if key == 'betas' else group[key]))
        if step < 40:
            reference.step()
            torch_schedule.step()
    ours = make()
    schedule = OneCycleLR(ours, **settings)  # max_lr: the optimiser's lr
    got = []
    for step in range(41):
        schedule.step_to(step)
        group = ours.param_groups[0]
        got.append((group['lr'], group[key][0] if key == 'betas' else group[key]))
    assert got == [pytest.approx(pair, rel=1e-12, abs=1e-15) for pair in expected]
    assert max(lr for lr, _ in got) == pytest.approx(0.1)
    assert got[39][0] == pytest.approx(0.1 / 10 / 100)  # the last step of the cycle (torch's end_step)


def test_one_cycle_refuses_to_cycle_a_momentum_the_optimiser_lacks():
    with pytest.raises(ValueError, match='Adagrad has no momentum or betas to cycle; set cycle_momentum: false'):
        OneCycleLR(torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))]), total_steps=10)


@pytest.mark.parametrize('decay_type, remaining', [
    ('linear', lambda p: 1 - p), ('cosine', lambda p: 0.5 * (1 + math.cos(math.pi * p))),
    ('1-sqrt', lambda p: 1 - math.sqrt(p)),
])
def test_warmup_stable_decay(decay_type, remaining):
    schedule = WarmupStableDecayLR(optimizer(2.0), num_warmup_steps=4, num_stable_steps=6, num_decay_steps=8,
                                   min_lr_ratio=0.1, decay_type=decay_type)
    got = lrs(schedule, [0, 1, 4, 9, 10, 12, 16, 18, 30])

    def decayed(progress):
        return 2.0 * (0.1 + 0.9 * remaining(progress))

    expected = [0.0, 0.5, 2.0, 2.0, 2.0, decayed(2 / 8), decayed(6 / 8), 0.2, 0.2]
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize('shape, factor', [('linear', lambda p: p),
                                           ('cosine', lambda p: (1 - math.cos(math.pi * p)) / 2)])
def test_warmup_key_in_front_of_any_schedule(shape, factor):
    """scheduler.warmup multiplies the schedule's own rate, for every registered LRSchedule."""
    scheduler_opt = {'type': 'CosineAnnealingRestartLR', 'periods': [20], 'warmup': {'iter': 8, 'shape': shape}}
    schedule = build_schedule(scheduler_opt, optimizer(1.0))
    plain = CosineAnnealingRestartLR(optimizer(1.0), periods=[20])
    iterations = [0, 2, 6, 8, 15]
    expected = [rate * (factor(it / 8) if 0 < it < 8 else 1.0) for it, rate in zip(iterations, lrs(plain, iterations))]
    assert lrs(schedule, iterations) == pytest.approx(expected, rel=1e-12)
    assert lrs(schedule, [2], warmup=4) == pytest.approx([expected[1]])  # its own warm-up wins over warmup_iter
    assert 'warmup' in scheduler_opt  # the options are read, not changed


def test_warmup_of_every_registered_schedule_resumes_exactly():
    """A fresh schedule loaded from a state dict mid-warm-up sets the same rate (the warm-up is configuration)."""
    built = {'MultiStepLR': {'milestones': [5]}, 'MultiStepRestartLR': {'milestones': [5]},
             'CosineAnnealingRestartLR': {'periods': [20]}, 'LinearDecayLR': {'start': 5, 'end': 20},
             'WarmupStableDecayLR': {'num_warmup_steps': 0, 'num_stable_steps': 5, 'num_decay_steps': 10},
             'OneCycleLR': {'total_steps': 20, 'cycle_momentum': False}}
    assert set(built) == set(SCHEDULER_REGISTRY.keys())  # a new schedule must be added here
    for name, arguments in built.items():
        scheduler_opt = {'type': name, **arguments, 'warmup': {'iter': 6, 'shape': 'cosine'}}
        schedule = build_schedule(scheduler_opt, optimizer(1.0))
        schedule.step_to(3)
        fresh = build_schedule(scheduler_opt, optimizer(1.0))
        fresh.load_state_dict(schedule.state_dict())
        assert fresh.optimizer.param_groups[0]['lr'] == schedule.optimizer.param_groups[0]['lr'], name
        assert 0 < schedule.optimizer.param_groups[0]['lr'] < lrs(build_schedule({'type': name, **arguments},
                                                                                optimizer(1.0)), [3])[0], name
