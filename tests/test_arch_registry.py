"""Registry-driven checks of every registered network (as timm's tests/test_models.py): a network registered with
its metadata (``tiny_config``, ``official_config``, ``input_multiple``, ``spandrel_arch``; see
basicsr/archs/spandrel_arch.py) gets these checks without touching this file.

SR networks: built from ``tiny_config`` through the option validation, run through the padding path
(``super_resolve``) at a size that is not a multiple of the input multiple, trained one backward step, saved and
loaded strictly with identical output; spandrel's loader detects what they save as the declared architecture and
gives the same output (and detects nothing for the others, so the listing's "spandrel loads" column holds); the
official configuration's parameter count equals that of the network spandrel builds from its state dict.
"""
import contextlib
import functools
import io
from unittest import mock

import pytest
import spandrel
import torch

from basicsr.archs import build_network
from basicsr.archs.arch_info import declared_input_multiple, input_multiple_of, sr_network_names
from basicsr.models.inference import padded_forward, super_resolve
from basicsr.utils.errors import OptionError
from basicsr.utils.registry import ARCH_REGISTRY, accepted_arguments

SR_NAMES = sr_network_names()
OTHER_NAMES = [name for name, _ in ARCH_REGISTRY if ARCH_REGISTRY.info(name).get('kind') not in ('sr', 'feature')]
SPANDREL_NAMES = [name for name in SR_NAMES if 'spandrel_arch' in ARCH_REGISTRY.info(name)]


@functools.cache
def _loader() -> spandrel.ModelLoader:
    """spandrel's loader, knowing spandrel-extra-arches' networks too when that package is installed."""
    registry = spandrel.ArchRegistry()
    registry.add(*spandrel.MAIN_REGISTRY.architectures())
    try:
        import spandrel_extra_arches
    except ImportError:
        return spandrel.ModelLoader(registry=registry)
    registry.add(*spandrel_extra_arches.EXTRA_REGISTRY.architectures(), ignore_duplicates=True)
    return spandrel.ModelLoader(registry=registry)


def _tiny(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_network({'type': name, **ARCH_REGISTRY.info(name)['tiny_config']})


def _off_multiple(start: int, multiple: int) -> int:
    """The first size from ``start`` that is not a multiple of ``multiple`` (any size when it is 1)."""
    size = start
    while multiple > 1 and size % multiple == 0:
        size += 1
    return size


def _save_and_load(net: torch.nn.Module, name: str) -> tuple[dict, torch.nn.Module]:
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    other = _tiny(name, seed=1)
    other.load_state_dict(state, strict=True)
    return state, other.eval()


def test_at_least_30_sr_families_registered():
    families = {ARCH_REGISTRY.info(name).get('spandrel_arch', name) for name in SR_NAMES}  # Real-CUGAN's 4 = 1
    assert len(families) >= 30, sorted(families)
    for name in SR_NAMES:
        info = ARCH_REGISTRY.info(name)
        assert {'tiny_config', 'official_config', 'source', 'licence'} <= set(info), name


@pytest.mark.parametrize('name', SR_NAMES)
def test_sr_network(name):
    info = ARCH_REGISTRY.info(name)
    net = _tiny(name)
    multiple = input_multiple_of(net)
    assert multiple == declared_input_multiple(name, info['tiny_config'])  # the listing's figure is the network's
    base = max(info.get('min_size', 17), 17)
    height, width = _off_multiple(base, multiple), _off_multiple(base + 2, multiple)

    # training step at a crop size the network takes (training crops are multiples of the input multiple)
    crop = -(-base // multiple) * multiple
    net.train()
    out = net(torch.rand(2, 3, crop, crop))
    out.mean().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(torch.isfinite(g).all() for g in grads if g is not None)
    # a network with parameters that get no gradient must say so (DDP then needs find_unused_parameters)
    assert (None in grads) == bool(info.get('unused_parameters')), name

    lq = torch.rand(1, 3, height, width)
    net.eval()
    with torch.no_grad():
        sr = super_resolve(net, lq)
    scale = sr.shape[-1] // width
    assert scale >= 1 and sr.shape == (1, 3, height * scale, width * scale) and torch.isfinite(sr).all()

    state, loaded = _save_and_load(net, name)
    with torch.no_grad():
        assert torch.equal(super_resolve(loaded, lq), sr)

    if 'spandrel_arch' in info:
        descriptor = _loader().load_from_state_dict(state)
        assert descriptor.architecture.id == info['spandrel_arch']
        with torch.no_grad():
            theirs = padded_forward(descriptor.model.eval(), lq, multiple)
        assert (theirs - sr).abs().max() < 1e-5
    else:  # the listing says spandrel cannot load it: it must not mistake it for another network either
        with pytest.raises(spandrel.UnsupportedModelError):
            _loader().load_from_state_dict(state)


@pytest.mark.parametrize('name', SR_NAMES)
def test_unknown_argument_names_the_closest(name):
    tiny = ARCH_REGISTRY.info(name)['tiny_config']
    key = next(iter(tiny), None) or accepted_arguments(ARCH_REGISTRY.get(name))[0]
    with pytest.raises(OptionError, match=f"network_g.{key}x: unknown argument of .*Did you mean '{key}'"):
        build_network({'type': name, **tiny, f'{key}x': 1})


@contextlib.contextmanager
def _no_random_init():
    """Zeros instead of the random fills of weight initialisation (most of the time of building a 20M-parameter
    network on a CPU); shapes, and so parameter counts and spandrel's detection, are unaffected."""
    zeros = lambda self, *args, **kwargs: self.zero_()  # noqa: E731
    with mock.patch.object(torch.Tensor, 'uniform_', zeros), mock.patch.object(torch.Tensor, 'normal_', zeros), \
            mock.patch.object(torch.Tensor, 'erfinv_', zeros):
        yield


@pytest.mark.parametrize('name', SPANDREL_NAMES)
def test_official_parameter_count_equals_spandrels(name):
    info = ARCH_REGISTRY.info(name)
    with _no_random_init():
        net = ARCH_REGISTRY.get(name)(**info['official_config'])
        descriptor = _loader().load_from_state_dict(net.state_dict())
    ours = sum(p.numel() for p in net.parameters())
    assert descriptor.architecture.id == info['spandrel_arch']
    assert ours == sum(p.numel() for p in descriptor.model.parameters())
    assert ours > 100_000


@pytest.mark.parametrize('name', OTHER_NAMES)
def test_other_network(name):
    """Discriminators and degradation generators: forward and backward at their input size, strict round trip."""
    net = _tiny(name)
    size = ARCH_REGISTRY.info(name)['tiny_config'].get('input_size', 32)
    net.train()
    net(torch.rand(2, 3, size, size)).mean().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    x = torch.rand(2, 3, size, size)
    net.eval()
    _, loaded = _save_and_load(net, name)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
