"""Network files that know their network: the record saved beside the weights, and building a network from a file.

A network file written by training holds BasicSR's ``params`` / ``params_ema`` state dicts and, under
:data:`RECORD_KEY`, the network's option section (``type`` and arguments) and the scale it was trained for::

    {'params': {...}, 'params_ema': {...}, 'basicsr_network': {'network': {'type': 'MSRResNet', ...}, 'scale': 4}}

The record holds only strings, numbers, booleans, lists and dicts, so the file still loads with
``torch.load(path, weights_only=True)[param_key]`` (BasicSR), and spandrel / chaiNNer, which unwrap ``params_ema`` or
``params`` and ignore the other top-level keys, read it as before. A file without a record (BasicSR, Real-ESRGAN or
OpenModelDB releases) is recognised by spandrel when it is installed (``pip install spandrel``).
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from basicsr.archs import build_network
from basicsr.utils.checkpoint import extract_state_dict, load_checkpoint
from basicsr.utils.errors import BasicSRError, CheckpointError

RECORD_KEY = 'basicsr_network'


def network_record(network_opt: dict[str, Any], scale: int) -> dict[str, Any]:
    """The record to store under :data:`RECORD_KEY`: a plain copy of the network's option section and the scale.

    The copy goes through JSON so nothing but plain containers and numbers reaches the file (``weights_only`` loaders
    and spandrel's restricted unpickler refuse anything else).
    """
    try:
        network = json.loads(json.dumps(dict(network_opt)))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"network options of type {network_opt.get('type')!r} cannot be recorded in the "
                              f'network file: {err}') from None
    return {'network': network, 'scale': int(scale)}


def record_entry(network_opt: dict[str, Any] | None, scale: int) -> dict[str, Any]:
    """``{RECORD_KEY: record}`` to add to a network file's top level; empty when there is no network section (a
    plug-in network built outside the options)."""
    return {RECORD_KEY: network_record(network_opt, scale)} if network_opt else {}


def recorded_network(checkpoint: Any, source: str | Path = '<checkpoint>') -> tuple[dict[str, Any], int] | None:
    """The ``(network options, scale)`` a loaded checkpoint records; None when it has no record."""
    record = checkpoint.get(RECORD_KEY) if isinstance(checkpoint, dict) else None
    if record is None:
        return None
    network, scale = (record.get('network'), record.get('scale')) if isinstance(record, dict) else (None, None)
    if not isinstance(network, dict) or not isinstance(network.get('type'), str) or not isinstance(scale, int):
        raise CheckpointError(f"{source}: '{RECORD_KEY}' is damaged: expected {{'network': {{'type': ...}}, "
                              f"'scale': int}}, found {record!r:.200}.")
    return network, scale


@dataclass
class LoadedNetwork:
    """A network built from a file, with its weights loaded, in eval mode on the CPU."""
    net: nn.Module
    scale: int
    name: str  # the network type (ours) or spandrel's architecture name
    source: str  # 'basicsr record' or 'spandrel'
    in_channels: int = 3
    supports_fp16: bool = True
    supports_bf16: bool = True


def load_network_file(path: str | Path, param_key: str = 'params_ema') -> LoadedNetwork:
    """The network of a file: ours from its record, any other through spandrel's architecture detection.

    ``param_key`` picks ``params_ema`` or ``params`` (the other when the file has only that one). A file neither
    route can build is a CheckpointError naming it and why.
    """
    checkpoint = load_checkpoint(path)
    state = extract_state_dict(checkpoint, param_key, str(path))
    record = recorded_network(checkpoint, path)
    if record is not None:
        network, scale = record
        net = _registered_network(network, state, path)
        return LoadedNetwork(net, scale, network['type'], 'basicsr record', _input_channels(net))
    return _spandrel_network(state, path)


def build_from_checkpoint(path: str | Path, param_key: str = 'params_ema') -> tuple[nn.Module, int]:
    """``(network, scale)`` of a network file (see :func:`load_network_file`)."""
    loaded = load_network_file(path, param_key)
    return loaded.net, loaded.scale


def _registered_network(network: dict[str, Any], state: dict, path: str | Path) -> nn.Module:
    try:
        net = build_network(network, f'{path}: {RECORD_KEY}.network')
    except BasicSRError as err:  # e.g. a plug-in network whose package is not imported here
        raise CheckpointError(f'{path}: cannot build the recorded network: {err}') from None
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: the weights do not fit the recorded {network['type']}: "
                              f'{str(err).splitlines()[0]}') from None
    return net.eval()


def _input_channels(net: nn.Module) -> int:
    """The channels of the first convolution (3 when there is none): what the network takes."""
    first = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    return first.in_channels if first is not None else 3


class _ForeignNetwork(nn.Module):
    """A network spandrel built, with the ``input_multiple`` that :func:`basicsr.models.inference.super_resolve`
    pads inputs to."""

    def __init__(self, model: nn.Module, input_multiple: int) -> None:
        super().__init__()
        self.model = model
        self.input_multiple = input_multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _spandrel_network(state: dict, path: str | Path) -> LoadedNetwork:
    try:
        import spandrel
    except ImportError:
        raise CheckpointError(f"{path}: holds no '{RECORD_KEY}' record (not saved by basicsr training), and "
                              'recognising other files needs spandrel: pip install spandrel.') from None
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(spandrel.canonicalize_state_dict(state))
    except spandrel.UnsupportedModelError:
        raise CheckpointError(f"{path}: holds no '{RECORD_KEY}' record and spandrel recognises no architecture in "
                              'it; give the network in an option file (network_g) instead.') from None
    except Exception as err:  # spandrel's detectors raise assorted errors on files they half recognise
        raise CheckpointError(f'{path}: spandrel could not load it: {str(err).splitlines()[0]}') from None
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise CheckpointError(f'{path}: spandrel found a {descriptor.architecture.name} network, which is not an '
                              'image-to-image network (inpainting or other); it cannot be run here.')
    model = _ForeignNetwork(descriptor.model, descriptor.size_requirements.multiple_of).eval()
    return LoadedNetwork(model, descriptor.scale, descriptor.architecture.name, 'spandrel', descriptor.input_channels,
                         descriptor.supports_half, descriptor.supports_bfloat16)
