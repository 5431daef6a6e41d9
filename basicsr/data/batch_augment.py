"""Augmentations of whole paired training batches: mixup, cutmix, resizemix and cutblur.

They run on the training device after ``feed_data`` (and after an online degradation), on the LQ batch (N, C, h, w)
and the GT batch (N, C, h*scale, w*scale) together, so a region taken from one image comes from the same place in
its LQ and its GT. Every random choice draws from the ``torch.Generator`` passed in: with its state saved and
restored, a resumed run repeats an uninterrupted one.

``train.batch_augment`` lists them; each entry is applied in turn with its probability ``prob``::

    batch_augment:
      - {type: cutblur, prob: 0.5, alpha: 0.7}
      - {type: mixup, prob: 0.3, alpha: 1.2}

Mixing draws the partner of each image from a random order of the batch (with a batch of one, its partner is itself).
"""
import math
import random
from typing import Any, Callable

import torch
from torch.nn import functional as F

from basicsr.utils import torch_random
from basicsr.utils.errors import OptionError, ShapeMismatchError
from basicsr.utils.option_schema import Key, finite_positive
from basicsr.utils.registry import check_arguments

Tensor = torch.Tensor
Box = tuple[int, int, int, int]  # top, left, height, width in LQ pixels


def _probability(value: Any) -> str | None:
    return None if 0 <= value <= 1 else 'must be in [0, 1]'


def _side_ratio(value: Any) -> str | None:
    return None if 0 < value <= 1 else 'must be in (0, 1]'


def _scope(value: Any) -> str | None:
    if len(value) == 2 and 0 < value[0] <= value[1] <= 1:
        return None
    return 'must be [low, high] with 0 < low <= high <= 1'


class BatchAugmentation:
    """One entry of ``train.batch_augment``: applied with probability ``prob``. ``checks`` are the range checks of
    the constructor's arguments (each returns an error text or None)."""
    checks: dict[str, Callable[[Any], str | None]] = {'prob': _probability}

    def __init__(self, prob: float = 1.0) -> None:
        self.prob = prob

    def __call__(self, lq: Tensor, gt: Tensor, scale: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class Mixup(BatchAugmentation):
    """``v * x + (1 - v) * x[order]`` for LQ and GT alike, with one ``v ~ Beta(alpha, alpha)`` per batch (Zhang et
    al., ICLR 2018; ``alpha`` 1.2 as Yoo et al. use for SR)."""
    checks = {**BatchAugmentation.checks, 'alpha': finite_positive}

    def __init__(self, prob: float = 1.0, alpha: float = 1.2) -> None:
        super().__init__(prob)
        self.alpha = alpha

    def __call__(self, lq: Tensor, gt: Tensor, scale: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        weight = _beta(self.alpha, generator)
        order = _order(lq, generator)
        return (weight * lq + (1 - weight) * lq[order], weight * gt + (1 - weight) * gt[order])


class _BoxAugmentation(BatchAugmentation):
    """Works on a random box whose sides are ``ratio`` times the image's, ``ratio ~ N(alpha, 0.01^2)`` clipped to
    [0, 1] (the parameters of Yoo et al., CVPR 2020)."""
    checks = {**BatchAugmentation.checks, 'alpha': _side_ratio}

    def __init__(self, prob: float = 1.0, alpha: float = 0.7) -> None:
        super().__init__(prob)
        self.alpha = alpha

    def random_box(self, lq: Tensor, generator: torch.Generator) -> Box:
        ratio = self.alpha + 0.01 * torch_random.randn((), generator, generator.device).item()
        return _random_box(lq, min(max(ratio, 0.0), 1.0), generator)


class CutMix(_BoxAugmentation):
    """A box of each image replaced by the same box of its partner, in LQ and (scaled) in GT (Yun et al., ICCV
    2019)."""

    def __call__(self, lq: Tensor, gt: Tensor, scale: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        box = self.random_box(lq, generator)
        order = _order(lq, generator)
        return _paste(lq, lq[order], box, 1), _paste(gt, gt[order], box, scale)


class ResizeMix(BatchAugmentation):
    """The partner image, shrunk to a box of side ratio ``tau ~ U(scope)``, pasted into each image at the same place
    in LQ and GT (Qin et al. 2020). Bicubic with anti-aliasing, clamped to [0, 1]."""
    checks = {**BatchAugmentation.checks, 'scope': _scope}

    def __init__(self, prob: float = 1.0, scope: tuple[float, float] = (0.1, 0.8)) -> None:
        super().__init__(prob)
        self.scope = tuple(scope)

    def __call__(self, lq: Tensor, gt: Tensor, scale: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        box = _random_box(lq, torch_random.uniform_scalar(*self.scope, generator), generator)
        order = _order(lq, generator)
        _, _, height, width = box
        small_lq = _resize(lq[order], (height, width))
        small_gt = _resize(gt[order], (height * scale, width * scale))
        return _paste(lq, small_lq, box, 1, whole_source=True), _paste(gt, small_gt, box, scale, whole_source=True)


class CutBlur(_BoxAugmentation):
    """CutBlur (Yoo et al., CVPR 2020): the input shows the GT in one region and the LQ in the rest. With
    probability 1/2 a box of the LQ is replaced by the GT there ("inside"), else the LQ is replaced by the GT except
    in the box ("outside"). The GT (the target) is unchanged.

    At ``scale`` > 1 the GT enters the LQ downscaled to the LQ's size (bicubic with anti-aliasing), so the network
    learns where the input is degraded and where it is clean; at scale 1 it is the paper's augmentation exactly."""

    def __call__(self, lq: Tensor, gt: Tensor, scale: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        box = self.random_box(lq, generator)
        clean = gt if scale == 1 else _resize(gt, tuple(lq.shape[-2:]))
        if torch_random.uniform_scalar(0.0, 1.0, generator) < 0.5:
            return _paste(lq, clean, box, 1), gt  # inside: GT in the box
        return _paste(clean, lq, box, 1), gt  # outside: LQ in the box


AUGMENTATIONS: dict[str, type[BatchAugmentation]] = {
    'mixup': Mixup, 'cutmix': CutMix, 'resizemix': ResizeMix, 'cutblur': CutBlur}


class BatchAugment:
    """The augmentations of ``train.batch_augment`` (a list of ``{type, prob, ...}``) for a model of ``scale``."""

    def __init__(self, entries: list[dict[str, Any]], scale: int) -> None:
        self.scale = scale
        self.augmentations = []
        for index, entry in enumerate(entries):
            cls = AUGMENTATIONS[entry['type']]
            arguments = {k: v for k, v in entry.items() if k != 'type'}  # coerced as validated (YAML's '1e-1')
            self.augmentations.append(cls(**check_arguments(cls, arguments, f'train.batch_augment[{index}]')))

    def __call__(self, lq: Tensor, gt: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``(lq, gt)`` with each augmentation applied with its probability, in order (new tensors; the inputs are
        not changed)."""
        if not self.augmentations:
            return lq, gt
        if tuple(gt.shape[-2:]) != (lq.shape[-2] * self.scale, lq.shape[-1] * self.scale):
            raise ShapeMismatchError(f'train.batch_augment: GT batch {tuple(gt.shape)} is not the LQ batch '
                                     f'{tuple(lq.shape)} times the scale {self.scale}.')
        for augmentation in self.augmentations:
            if torch_random.uniform_scalar(0.0, 1.0, generator) < augmentation.prob:
                lq, gt = augmentation(lq, gt, self.scale, generator)
        return lq, gt


def check_batch_augment(entries: list[dict[str, Any]]) -> str | None:
    """The problem with a ``train.batch_augment`` list (unknown type or argument, wrong type, value out of range),
    naming the entry; None when it is fine."""
    for index, entry in enumerate(entries):
        name = entry.get('type')
        if not isinstance(name, str) or name not in AUGMENTATIONS:
            return f"[{index}].type must be one of {', '.join(AUGMENTATIONS)} (got {name!r})"
        cls = AUGMENTATIONS[name]
        try:
            arguments = check_arguments(cls, {k: v for k, v in entry.items() if k != 'type'}, f'[{index}]')
        except OptionError as err:
            return str(err).rstrip('.')
        for key, value in arguments.items():
            problem = cls.checks[key](value)
            if problem:
                return f'[{index}].{key} ({name}) {problem}'
    return None


# The schema piece of ``train.batch_augment`` (a recipe adds it to its ``train_options``).
BATCH_AUGMENT = Key(list[dict[str, Any]], [], check_batch_augment,
                    doc='mixup, cutmix, resizemix, cutblur on each training batch: [{type, prob, ...}, ...]')


def _beta(alpha: float, generator: torch.Generator) -> float:
    """One ``Beta(alpha, alpha)`` number; torch's Beta takes no generator, so Python's draws from a seed taken
    from ``generator``."""
    seed = int(torch.randint(2**62, (), generator=generator, device=generator.device))
    return random.Random(seed).betavariate(alpha, alpha)


def _order(batch: Tensor, generator: torch.Generator) -> Tensor:
    return torch.tensor(torch_random.permutation(batch.shape[0], generator), device=batch.device)


def _random_box(lq: Tensor, ratio: float, generator: torch.Generator) -> Box:
    """A box of sides ``ratio`` times the LQ's (at least a pixel) at a uniformly random place inside it."""
    height, width = lq.shape[-2:]
    box_h, box_w = max(1, math.floor(height * ratio)), max(1, math.floor(width * ratio))
    top = torch_random.randint_scalar(0, height - box_h, generator)
    left = torch_random.randint_scalar(0, width - box_w, generator)
    return top, left, box_h, box_w


def _paste(target: Tensor, source: Tensor, box: Box, scale: int, whole_source: bool = False) -> Tensor:
    """A copy of ``target`` with ``box`` (LQ pixels, times ``scale``) taken from the same place of ``source``, or
    filled with all of ``source`` (``whole_source``: it has the box's size)."""
    top, left, height, width = (value * scale for value in box)
    out = target.clone()
    region = (..., slice(top, top + height), slice(left, left + width))
    out[region] = source if whole_source else source[region]
    return out


def _resize(batch: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(batch, size=size, mode='bicubic', antialias=True, align_corners=False).clamp(0, 1)
