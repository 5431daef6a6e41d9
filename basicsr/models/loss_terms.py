"""Loss terms: the open list ``train.losses`` and BasicSR's ``<name>_opt`` slots, built and computed one way.

An entry is a loss of the loss registry with its arguments, plus two keys read here: ``target`` (the image it
compares the output with: ``gt`` by default; a recipe may offer more, e.g. Real-ESRGAN's sharpened ``gt_usm``) and
``name`` (what it is logged as, ``l_<name>``; by default from the type: ``L1Loss`` -> ``l1``). BasicSR's slot keys
are entries of the same list: ``pixel_opt`` is named ``pix``, ``perceptual_opt`` ``percep``, ``<x>_opt`` ``x``.

The one loss contract: a loss is called as ``loss(output, target, **extras)`` and returns a tensor, or a mapping
of named tensors (logged ``<name>_<part>``); BasicSR's ``(perceptual, style)`` pair is read as such a mapping. A
loss that needs more than the two images names them in ``extra_inputs`` (e.g. LDL: ``('output_ema',)``).
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from basicsr.losses import build_loss
from basicsr.utils.errors import OptionError

SLOT_NAMES = {'pixel_opt': 'pix', 'perceptual_opt': 'percep'}
TERM_KEYS = ('target', 'name')  # read here, not passed to the loss
_STYLE_NAMES = {'percep': 'style'}  # BasicSR's log name of the style part of perceptual_opt


def default_name(loss_type: str) -> str:
    """``L1Loss`` -> ``l1``, ``FocalFrequencyLoss`` -> ``focalfrequency``."""
    return loss_type.removesuffix('Loss').lower() or loss_type.lower()


def named_parts(name: str, value: Any) -> 'OrderedDict[str, torch.Tensor]':
    """A loss's result as named tensors (the one contract; parts that are None are left out)."""
    if isinstance(value, torch.Tensor):
        return OrderedDict([(name, value)])
    if isinstance(value, Mapping):
        return OrderedDict((f'{name}_{part}', v) for part, v in value.items() if v is not None)
    if isinstance(value, tuple) and len(value) == 2:  # BasicSR's PerceptualLoss: (perceptual, style)
        parts = ((name, value[0]), (_STYLE_NAMES.get(name, f'{name}_style'), value[1]))
        return OrderedDict((n, v) for n, v in parts if v is not None)
    raise TypeError(f'loss {name!r} returned {type(value).__name__}; a loss returns a tensor or a dict of tensors.')


@dataclass
class LossTerm:
    """One configured loss: what it is logged as, the loss module, the target it compares with, where it is set."""
    name: str
    loss: nn.Module
    target: str
    key_path: str

    def __call__(self, output: torch.Tensor, targets: Mapping[str, torch.Tensor],
                 extras: Mapping[str, Callable[[], torch.Tensor]]) -> 'OrderedDict[str, torch.Tensor]':
        wanted = {key: extras[key]() for key in getattr(self.loss, 'extra_inputs', ())}
        return named_parts(self.name, self.loss(output, targets[self.target], **wanted))


class LossTerms:
    """The loss terms of a recipe, in order: slots first (as in the file), then ``train.losses``."""

    def __init__(self, terms: Iterable[LossTerm]) -> None:
        self.terms = list(terms)

    @classmethod
    def from_options(cls, train_opt: Mapping[str, Any], slot_keys: Iterable[str], targets: Iterable[str],
                     default_target: Callable[[str], str], device: torch.device) -> 'LossTerms':
        """Build the terms of ``slot_keys`` (those given) and of ``train_opt['losses']``; ``targets`` are the
        target names the recipe offers, ``default_target(name)`` the target of a term that names none."""
        entries = [(f'train.{key}', SLOT_NAMES.get(key, key.removesuffix('_opt')), train_opt[key])
                   for key in slot_keys if train_opt.get(key)]
        entries += [(f'train.losses.{index}', entry.get('name') or default_name(entry['type']), entry)
                    for index, entry in enumerate(train_opt.get('losses') or [])]
        targets, terms, names = list(targets), [], {}
        for key_path, name, entry in entries:
            if name in names:
                raise OptionError(f"{key_path}.name: the loss name {name!r} is also used by {names[name]}; give "
                                  'each term its own name.', key_path=f'{key_path}.name')
            names[name] = key_path
            target = entry.get('target') or default_target(name)
            if target not in targets:
                raise OptionError(f"{key_path}.target: {target!r} is not an image this recipe offers "
                                  f"({', '.join(targets)}).", key_path=f'{key_path}.target')
            arguments = {k: v for k, v in entry.items() if k not in TERM_KEYS}
            terms.append(LossTerm(name, build_loss(arguments, key_path).to(device), target, key_path))
        return cls(terms)

    def get(self, name: str) -> LossTerm | None:
        return next((term for term in self.terms if term.name == name), None)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __call__(self, output: torch.Tensor, targets: Mapping[str, torch.Tensor],
                 extras: Mapping[str, Callable[[], torch.Tensor]],
                 prefix: str = 'l_') -> 'OrderedDict[str, torch.Tensor]':
        """Every term's value(s), named ``<prefix><name>``."""
        losses = OrderedDict()
        for term in self.terms:
            for name, value in term(output, targets, extras).items():
                losses[f'{prefix}{name}'] = value
        return losses
