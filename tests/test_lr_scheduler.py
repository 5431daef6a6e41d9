"""Learning-rate schedules against values worked out by hand from BasicSR's definitions."""
import math

import pytest
import torch

from basicsr.models.lr_scheduler import CosineAnnealingRestartLR, MultiStepRestartLR


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
