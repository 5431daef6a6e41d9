"""Optimisers: every registered one resumes bit-exactly from a saved state, builds through the fast path, rejects
misspelt keys; a missing package names its extra; schedule-free evaluation weights (basicsr.optimizers.mode)."""
import io
import sys

import pytest
import torch
from torch import nn

from basicsr.models.speed import build_fast_optimizer
from basicsr.optimizers import OPTIMIZER_REGISTRY, eval_weights, train_weights, uses_eval_weights
from basicsr.optimizers import registration
from basicsr.utils.errors import OptionError
from basicsr.utils.registry import Registry

NAMES = sorted(OPTIMIZER_REGISTRY.keys())


def _network(requires: str | None) -> nn.Module:
    torch.manual_seed(0)
    if requires == 'matrix_parameters':
        return nn.Sequential(nn.Flatten(), nn.Linear(8, 4, bias=False), nn.Linear(4, 2, bias=False))
    if requires == 'sparse_gradients':
        return nn.Embedding(10, 3, sparse=True)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(3, 1, 1))


def _loss(net: nn.Module, requires: str | None, step: int) -> torch.Tensor:
    data = torch.randn(2, 2, 2, 2, generator=torch.Generator().manual_seed(step))
    if requires == 'sparse_gradients':
        return net(torch.tensor([step % 10, (3 * step + 1) % 10])).pow(2).mean()
    return (net(data) - 0.5).pow(2).mean()


def _step(net: nn.Module, optimizer: torch.optim.Optimizer, requires: str | None, step: int) -> None:
    optimizer.zero_grad()
    _loss(net, requires, step).backward()
    if requires == 'closure':
        optimizer.step(lambda: _loss(net, requires, step))
    else:
        optimizer.step()


def _build(name: str, net: nn.Module) -> torch.optim.Optimizer:
    fewer_evaluations = {'max_iter': 2} if OPTIMIZER_REGISTRY.info(name).get('requires') == 'closure' else {}
    return OPTIMIZER_REGISTRY.build({'type': name, 'lr': 1e-2, **fewer_evaluations}, 'train.optim_g',
                                    params=list(net.parameters()))


def _round_trip(obj: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _resume(name: str, saved: dict, requires: str | None, steps: range) -> nn.Module:
    """A fresh network and optimiser loaded from ``saved`` (put in train mode, as the trainer does after loading),
    then trained for ``steps``."""
    net = _network(requires)
    net.load_state_dict(saved['net'])
    optimizer = _build(name, net)
    optimizer.load_state_dict(saved['optimizer'])
    train_weights([optimizer])
    for step in steps:
        _step(net, optimizer, requires, step)
    return net


@pytest.mark.parametrize('name', NAMES)
def test_every_optimiser_resumes_bit_exactly(name):
    requires = OPTIMIZER_REGISTRY.info(name).get('requires')
    net = _network(requires)
    optimizer = _build(name, net)
    for step in range(3):
        _step(net, optimizer, requires, step)
    saved = _round_trip({'net': net.state_dict(), 'optimizer': optimizer.state_dict()})
    for step in range(3, 5):
        _step(net, optimizer, requires, step)

    resumed_net = _resume(name, saved, requires, range(3, 5))
    for (key, value), resumed_value in zip(net.state_dict().items(), resumed_net.state_dict().values()):
        assert torch.equal(value, resumed_value), f'{name}: {key} differs after resuming'
    assert any(not torch.equal(saved['net'][k], v) for k, v in net.state_dict().items()), f'{name} did not step'


@pytest.mark.parametrize('name', NAMES)
def test_fast_builder_handles_every_optimiser(name):
    """build_fast_optimizer adds fused=True only where the class has a fused kernel; the others build unchanged."""
    net = _network(OPTIMIZER_REGISTRY.info(name).get('requires'))
    optimizer = build_fast_optimizer({'type': name, 'lr': 1e-2}, 'train.optim_g', list(net.parameters()))
    cls = OPTIMIZER_REGISTRY.get(name)
    assert isinstance(optimizer, getattr(cls, 'optimizer_class', cls))
    if name in ('Adam', 'AdamW', 'SGD'):  # fused CPU kernels exist for these
        assert optimizer.defaults['fused'] is True
    assert not uses_eval_weights(optimizer) or optimizer.param_groups[0]['train_mode']  # built ready to step


@pytest.mark.parametrize('name', [n for n in ('Adan', 'Lion', 'SOAP') if n in OPTIMIZER_REGISTRY])
def test_misspelt_key_of_a_package_optimiser_is_an_option_error(name):
    """pytorch-optimizer's constructors take **kwargs; the registered builder does not pass unknown keys on."""
    with pytest.raises(OptionError, match=rf"train\.optim_g\.betass: unknown argument of {name}\. Did you mean "
                                          r"'betas'\?"):
        OPTIMIZER_REGISTRY.build({'type': name, 'lr': 1e-3, 'betass': [0.9, 0.99]}, 'train.optim_g',
                                 params=[nn.Parameter(torch.zeros(2, 2))])


def test_lazy_registration_imports_the_package_at_first_use(monkeypatch, tmp_path):
    """pytorch-optimizer takes about a second to import: its names are registered without importing it."""
    (tmp_path / 'slow_optim_package.py').write_text(
        'import torch\n\nclass Fancy(torch.optim.SGD):\n    def __init__(self, params, lr: float = 0.1, **kwargs):\n'
        '        super().__init__(params, lr=lr, **kwargs)\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry('optimizer')
    monkeypatch.setattr(registration, 'OPTIMIZER_REGISTRY', registry)
    registration.register_package_optimizers('slow_optim_package', ('Fancy',), distribution='slow', lazy=True)
    assert 'slow_optim_package' not in sys.modules
    with pytest.raises(OptionError, match=r"x\.momentun: unknown argument of Fancy\. Accepted: lr\."):
        registry.build({'type': 'Fancy', 'momentun': 0.9}, 'x', params=[nn.Parameter(torch.zeros(1))])
    assert 'slow_optim_package' in sys.modules
    optimizer = registry.build({'type': 'Fancy', 'lr': '1e-2'}, 'x', params=[nn.Parameter(torch.zeros(1))])
    assert type(optimizer).__name__ == 'Fancy' and optimizer.defaults['lr'] == 0.01
    monkeypatch.delitem(sys.modules, 'slow_optim_package')


def test_missing_package_names_the_extra_to_install(monkeypatch):
    registry = Registry('optimizer')
    monkeypatch.setattr(registration, 'OPTIMIZER_REGISTRY', registry)
    registration.register_package_optimizers('basicsr_no_such_package', ('Fancy',), distribution='fancy-optim')
    assert 'Fancy' not in registry
    with pytest.raises(OptionError, match=r"^train\.optim_g\.type: the optimizer 'Fancy' needs the package "
                                          r"'fancy-optim': pip install 'basicsr\[optim\]' \(or fancy-optim\)\.$"):
        registry.get('Fancy', key_path='train.optim_g.type')


class _TwoPointOptimizer(torch.optim.SGD):
    """A stand-in with a schedule-free optimiser's switch: eval mode shifts the weights by +1."""

    def __init__(self, params):
        super().__init__(params, lr=0.1)
        self.training = True

    def eval(self):
        if self.training:
            for group in self.param_groups:
                for p in group['params']:
                    p.data += 1
        self.training = False

    def train(self):
        if not self.training:
            for group in self.param_groups:
                for p in group['params']:
                    p.data -= 1
        self.training = True


def test_eval_weights_switches_only_optimisers_with_modes():
    weight, other = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2))
    two_point, plain = _TwoPointOptimizer([weight]), torch.optim.Adam([other])
    assert uses_eval_weights(two_point) and not uses_eval_weights(plain)
    with eval_weights([two_point, plain]):
        assert torch.equal(weight.data, torch.ones(2)) and not two_point.training
        assert torch.equal(other.data, torch.zeros(2))
    assert two_point.training and torch.equal(weight.data, torch.zeros(2))
    with pytest.raises(RuntimeError, match='inside'), eval_weights([two_point]):
        raise RuntimeError('inside')
    assert two_point.training  # train mode is restored on errors too
    two_point.eval()
    train_weights([two_point, plain])
    assert two_point.training and torch.equal(weight.data, torch.zeros(2))


SCHEDULE_FREE = [n for n in ('AdamWScheduleFree', 'SGDScheduleFree', 'RAdamScheduleFree') if n in OPTIMIZER_REGISTRY]


@pytest.mark.parametrize('name', SCHEDULE_FREE)
def test_schedule_free_checkpoint_of_eval_weights_resumes_bit_exactly(name):
    """Saved inside eval_weights (the network at its evaluation weights) and put in train mode after loading, a
    resumed run repeats the uninterrupted one, which went through the same switch when it saved."""
    net = _network(None)
    optimizer = _build(name, net)
    for step in range(6):  # RAdam's first steps are a silent phase: weights change from the 5th on
        _step(net, optimizer, None, step)
    train_point = [p.detach().clone() for p in net.parameters()]
    with eval_weights([optimizer]):
        assert any(not torch.equal(a, b) for a, b in zip(train_point, net.parameters()))
        saved = _round_trip({'net': net.state_dict(), 'optimizer': optimizer.state_dict()})
    for step in range(6, 8):
        _step(net, optimizer, None, step)

    resumed_net = _resume(name, saved, None, range(6, 8))
    for value, resumed_value in zip(net.parameters(), resumed_net.parameters()):
        assert torch.equal(value, resumed_value)
