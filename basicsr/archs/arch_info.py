"""What the registry metadata of the networks says about a network: its kind, input multiple, and the
configurations to build it at (see :mod:`basicsr.archs.spandrel_arch` for the keys)."""
from typing import Any

from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY


def sr_network_names() -> list[str]:
    """The registered super-resolution networks (``kind='sr'``), in registration order."""
    return [name for name, _ in ARCH_REGISTRY if ARCH_REGISTRY.info(name).get('kind') == 'sr']


def registered_name(net: nn.Module) -> str | None:
    """The name under which ``net``'s class is registered (None for an unregistered class)."""
    return next((name for name, obj in ARCH_REGISTRY if obj is type(net)), None)


def declared_input_multiple(name: str, kwargs: dict[str, Any]) -> int:
    """The ``input_multiple`` the registry declares for network ``name`` built with ``kwargs`` (1 when none)."""
    multiple = ARCH_REGISTRY.info(name).get('input_multiple', 1)
    return int(multiple(kwargs) if callable(multiple) else multiple)


def input_multiple_of(net: nn.Module) -> int:
    """What ``net``'s input height and width must be multiples of: its own ``input_multiple`` attribute (the
    project's windowed networks set it), else the registry's declaration for its class, read with the
    hyperparameters the network records (spandrel's classes keep them in ``hyperparameters``); 1 otherwise."""
    if hasattr(net, 'input_multiple'):
        return int(net.input_multiple)
    inner = getattr(net, 'module', None) or getattr(net, '_orig_mod', None)  # DDP, EMA and torch.compile wrappers
    if isinstance(inner, nn.Module):
        return input_multiple_of(inner)
    name = registered_name(net)
    return declared_input_multiple(name, getattr(net, 'hyperparameters', {})) if name else 1
