"""A trained generator for the tools (export, compare): ``network_g`` of an option file with its weights loaded.

Any option file with a ``network_g`` section serves (a training or testing file, or one holding only that section);
the weights come from ``--weights`` or the file's ``path.pretrain_network_g``, with ``path.param_key_g`` choosing
between ``params`` and ``params_ema`` (the other is used when the chosen one is missing).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

import _bootstrap  # noqa: F401  (makes basicsr importable from a checkout)
from basicsr.archs import build_network
from basicsr.models.checkpointing import convert_layout
from basicsr.utils.checkpoint import load_state_dict
from basicsr.utils.errors import CheckpointError, OptionError
from basicsr.config.load import load_yaml


@dataclass
class Generator:
    """A loaded network and where it came from."""
    net: nn.Module
    network_opt: dict[str, Any]  # the ``network_g`` section, to rebuild the network
    weights: Path
    scale: int


def load_generator(opt_path: str | Path, weights: str | Path | None = None,
                   param_key: str | None = None) -> Generator:
    """Build ``network_g`` of ``opt_path`` and load its weights strictly (eval mode, on the CPU)."""
    opt, _ = load_yaml(opt_path)
    if not isinstance(opt.get('network_g'), dict):
        raise OptionError(f'{opt_path}: network_g: required (a mapping with a type key) but missing.',
                          key_path='network_g')
    paths = opt.get('path') or {}
    weights = weights or paths.get('pretrain_network_g')
    if not weights:
        raise OptionError(f'{opt_path}: no weights: pass --weights or set path.pretrain_network_g.',
                          key_path='path.pretrain_network_g')
    net = build_network(opt['network_g'])
    load_weights(net, weights, param_key or paths.get('param_key_g') or 'params')
    scale = opt.get('scale') or opt['network_g'].get('upscale') or opt['network_g'].get('scale') or 1
    return Generator(net.eval(), opt['network_g'], Path(weights), int(scale))


def load_weights(net: nn.Module, weights: str | Path, param_key: str = 'params') -> None:
    """Load a checkpoint (``.pth`` with or without ``params``/``params_ema``, ``module.`` prefixes, or
    ``.safetensors``) into ``net`` strictly, translating published key layouts the network knows."""
    state = convert_layout(net, load_state_dict(weights, param_key))
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f'{weights}: does not fit {net.__class__.__name__}: {err}') from None
