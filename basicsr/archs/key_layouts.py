"""Published key layouts of RRDBNet, RCAN and EDSR, and the conversion between them and BasicSR's.

A layout is a table of module-path templates, pairs (BasicSR path, path in that layout), in which ``{name}`` stands
for a block index. One table converts both ways. A key that no entry matches is an error naming it, so a file of
another network is never half converted. Some layouts spell a count as a literal index (in ESRGAN's old layout
``model.1.sub.23`` is the convolution after the 23 RRDBs); such counts are read from the state dict first.

The networks call :func:`detect_layout` and :func:`rename_keys` from their ``convert_state_dict`` hooks, so that
published files load unchanged; ``scripts/convert_weights.py`` uses the same functions to write files other tools read.
"""
import inspect
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch

from basicsr.utils.errors import CheckpointError

BASICSR = 'basicsr'
StateDict = Mapping[str, torch.Tensor]
Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class Layout:
    """How one published layout names a network's tensors.

    Args:
        marker: a key that only this layout has (it identifies the layout).
        description: where the layout comes from, for messages and ``--help``.
        pairs: ``counts -> [(BasicSR template, this layout's template)]`` (module paths; tensor names are added).
        counters: ``count name -> template of a key of this layout whose {n} runs over 0 .. count - 1``.
    """
    marker: str
    description: str
    pairs: Callable[..., Pairs] = lambda: []
    counters: dict[str, str] = field(default_factory=dict)


def _rrdbnet_official_pairs(num_block: int) -> Pairs:
    return [('conv_first', 'model.0'),
            ('body.{i}.rdb{k}.conv{j}', 'model.1.sub.{i}.RDB{k}.conv{j}.0'),
            ('conv_body', f'model.1.sub.{num_block}'),
            ('conv_up1', 'model.3'), ('conv_up2', 'model.6'), ('conv_hr', 'model.8'), ('conv_last', 'model.10')]


def _rrdbnet_esrgan2019_pairs() -> Pairs:
    return [('conv_first', 'conv_first'), ('body.{i}.rdb{k}.conv{j}', 'RRDB_trunk.{i}.RDB{k}.conv{j}'),
            ('conv_body', 'trunk_conv'), ('conv_up1', 'upconv1'), ('conv_up2', 'upconv2'), ('conv_hr', 'HRconv'),
            ('conv_last', 'conv_last')]


def _rcan_official_pairs(num_group: int, num_block: int) -> Pairs:
    rcab, official_rcab = 'body.{g}.residual_group.{b}.rcab', 'body.{g}.body.{b}.body'
    return [('conv_first', 'head.0'),
            (f'{rcab}.0', f'{official_rcab}.0'), (f'{rcab}.2', f'{official_rcab}.2'),
            (f'{rcab}.3.attention.1', f'{official_rcab}.3.conv_du.0'),
            (f'{rcab}.3.attention.3', f'{official_rcab}.3.conv_du.2'),
            ('body.{g}.conv', f'body.{{g}}.body.{num_block}'),
            ('conv_after_body', f'body.{num_group}'),
            ('upsample.{i}', 'tail.0.{i}'), ('conv_last', 'tail.1')]


def _edsr_official_pairs(num_block: int) -> Pairs:
    return [('conv_first', 'head.0'), ('body.{i}.conv1', 'body.{i}.body.0'), ('body.{i}.conv2', 'body.{i}.body.2'),
            ('conv_after_body', f'body.{num_block}'), ('upsample.{i}', 'tail.0.{i}'), ('conv_last', 'tail.1')]


LAYOUTS: dict[str, dict[str, Layout]] = {
    'RRDBNet': {
        BASICSR: Layout('body.0.rdb1.conv1.weight', 'BasicSR (conv_first, body.N.rdb1.conv1, conv_body, ...)',
                        counters={'num_block': 'body.{n}.rdb1.conv1.weight'}),
        'official': Layout('model.0.weight', 'original ESRGAN repository, 2018 architecture '
                           '(model.0, model.1.sub.N.RDB1.conv1.0, ...)', _rrdbnet_official_pairs,
                           {'num_block': 'model.1.sub.{n}.RDB1.conv1.0.weight'}),
        'esrgan2019': Layout('RRDB_trunk.0.RDB1.conv1.weight', 'ESRGAN repository since June 2019 '
                             '(RRDB_trunk.N.RDB1.conv1, trunk_conv, upconv1, HRconv, ...)', _rrdbnet_esrgan2019_pairs),
    },
    'RCAN': {
        BASICSR: Layout('conv_after_body.weight', 'BasicSR (conv_first, body.G.residual_group.B.rcab.0, ...)',
                        counters={'num_group': 'body.{n}.conv.weight',
                                  'num_block': 'body.0.residual_group.{n}.rcab.0.weight'}),
        'official': Layout('head.0.weight', 'official RCAN repository, also read by spandrel/chaiNNer '
                           '(sub_mean, head.0, body.G.body.B.body.0, tail.0, add_mean)', _rcan_official_pairs,
                           {'num_group': 'body.{n}.body.0.body.0.weight',
                            'num_block': 'body.0.body.{n}.body.0.weight'}),
    },
    'EDSR': {
        BASICSR: Layout('body.0.conv1.weight', 'BasicSR (conv_first, body.N.conv1/conv2, conv_after_body, upsample, '
                        'conv_last)', counters={'num_block': 'body.{n}.conv1.weight'}),
        'official': Layout('head.0.weight', 'EDSR-PyTorch (sub_mean, head.0, body.N.body.0/2, body.<num_block>, '
                           'tail.0.N, tail.1, add_mean)', _edsr_official_pairs,
                           {'num_block': 'body.{n}.body.0.weight'}),
    },
}
RCAN_MEAN_SHIFT_KEYS = ('sub_mean.weight', 'sub_mean.bias', 'add_mean.weight', 'add_mean.bias')


def _template_regex(template: str, tensor_suffix: bool) -> re.Pattern:
    """``'body.{i}.conv'`` -> ``body\\.(?P<i>\\d+)\\.conv`` (plus ``\\.(?P<tensor>\\w+)`` when ``tensor_suffix``)."""
    parts = re.split(r'\{(\w+)\}', template)
    regex = ''.join(re.escape(part) if i % 2 == 0 else rf'(?P<{part}>\d+)' for i, part in enumerate(parts))
    return re.compile(regex + (r'\.(?P<tensor>\w+)' if tensor_suffix else ''))


def _arch_layouts(arch: str) -> dict[str, Layout]:
    if arch not in LAYOUTS:
        raise CheckpointError(f"no key layouts are known for '{arch}'; known: {', '.join(LAYOUTS)}.")
    return LAYOUTS[arch]


def detect_layout(state: StateDict, arch: str) -> str | None:
    """The name of the layout of ``arch`` that ``state`` is in, or None if it is in none of them."""
    for name, layout in _arch_layouts(arch).items():
        if layout.marker in state:
            return name
    return None


def _counts(state: StateDict, layout: Layout, wanted: Callable) -> dict[str, int]:
    """The counts of ``layout`` in ``state`` that the pairs function ``wanted`` takes."""
    counts = {}
    for name in inspect.signature(wanted).parameters:
        template = layout.counters[name]
        regex = _template_regex(template, tensor_suffix=False)
        indices = [int(m['n']) for m in map(regex.fullmatch, state) if m]
        counts[name] = max(indices) + 1 if indices else 0
    return counts


def _rename(state: StateDict, pairs: Pairs, what: str) -> 'OrderedDict[str, torch.Tensor]':
    compiled = [(_template_regex(source, tensor_suffix=True), target) for source, target in pairs]
    out = OrderedDict()
    for key, value in state.items():
        for regex, target in compiled:
            match = regex.fullmatch(key)
            if match:
                out[f"{target.format(**match.groupdict())}.{match['tensor']}"] = value
                break
        else:
            raise CheckpointError(f"{what}: key '{key}' has no counterpart; is this file of that network?")
    return out


def rename_keys(state: StateDict, arch: str, source: str, target: str) -> 'OrderedDict[str, torch.Tensor]':
    """``state`` (in layout ``source`` of ``arch``) with its keys in layout ``target``; the tensors are the same
    objects. RCAN's ``sub_mean``/``add_mean`` are not part of the table: see :func:`pop_rcan_mean_shift`."""
    layouts = _arch_layouts(arch)
    for name in (source, target):
        if name not in layouts:
            raise CheckpointError(f"{arch} has no layout '{name}'; known: {', '.join(layouts)}.")
    if source == target:
        return OrderedDict(state)
    what = f'converting {arch} weights from the {source} to the {target} layout'
    if source != BASICSR:
        pairs = layouts[source].pairs
        state = _rename(state, [(theirs, ours) for ours, theirs in pairs(**_counts(state, layouts[source], pairs))],
                        what)
    if target != BASICSR:
        pairs = layouts[target].pairs
        state = _rename(state, pairs(**_counts(state, layouts[BASICSR], pairs)), what)
    return OrderedDict(state)


def pop_rcan_mean_shift(state: StateDict, arch: str = 'RCAN') -> tuple['OrderedDict[str, torch.Tensor]', torch.Tensor]:
    """Split the mean-shift convolutions of EDSR-PyTorch's ``MeanShift`` (official RCAN and EDSR) off ``state``.

    Returns the remaining tensors and ``rgb_range * rgb_mean``, the shift they apply. The two 1x1 convolutions must
    be an identity that subtracts and one that adds back the same shift, since that is all BasicSR's RCAN and EDSR
    (a fixed mean, not a parameter) can represent; anything else is a CheckpointError.
    """
    missing = [k for k in RCAN_MEAN_SHIFT_KEYS if k not in state]
    if missing:
        raise CheckpointError(f'official {arch} weights lack {missing}.')
    sub_w, sub_b, add_w, add_b = (state[k].float() for k in RCAN_MEAN_SHIFT_KEYS)
    channels = sub_b.numel()
    identity = torch.eye(channels).view(channels, channels, 1, 1)
    if not (torch.allclose(sub_w, identity, atol=1e-6) and torch.allclose(add_w, identity, atol=1e-6)):
        raise CheckpointError('sub_mean/add_mean weights are not identity matrices (rgb_std other than 1, or '
                              'trained), which a fixed mean shift cannot represent.')
    if not torch.allclose(sub_b, -add_b, atol=1e-4):
        raise CheckpointError(f'sub_mean.bias {sub_b.tolist()} does not undo add_mean.bias {add_b.tolist()}.')
    rest = OrderedDict((k, v) for k, v in state.items() if k not in RCAN_MEAN_SHIFT_KEYS)
    return rest, add_b


def rcan_mean_shift(rgb_mean: list[float] | tuple[float, ...], img_range: float) -> 'OrderedDict[str, torch.Tensor]':
    """The official RCAN's ``sub_mean``/``add_mean`` tensors for a pixel mean and input range (rgb_std 1)."""
    channels = len(rgb_mean)
    identity = torch.eye(channels).view(channels, channels, 1, 1)
    shift = img_range * torch.tensor(rgb_mean, dtype=torch.float32)
    return OrderedDict(zip(RCAN_MEAN_SHIFT_KEYS, (identity, -shift, identity.clone(), shift.clone())))


def from_mean_shift_layout(state: StateDict, arch: str, rgb_mean: torch.Tensor, img_range: float) -> StateDict:
    """``state`` in BasicSR's layout of ``arch`` (EDSR or RCAN, whose pixel mean is a constant): files already in
    it, or in no known layout, are returned as they are; official files lose their mean shift, which must be
    ``rgb_mean`` at ``img_range`` (else a CheckpointError says which ``network_g.rgb_mean`` the file needs)."""
    layout = detect_layout(state, arch)
    if layout in (None, BASICSR):
        return state
    state, shift = pop_rcan_mean_shift(state, arch)
    file_mean = shift / img_range
    if not torch.allclose(file_mean, rgb_mean.flatten().cpu().float(), atol=1e-5):
        raise CheckpointError(
            f'the mean shift of these official {arch} weights is rgb_mean {file_mean.tolist()} at img_range '
            f'{img_range:g}, the network has {rgb_mean.flatten().tolist()}: set network_g.rgb_mean to the file\'s '
            'values.')
    return rename_keys(state, arch, layout, BASICSR)
