"""Random draws from an explicit ``torch.Generator``, for tensors on any device.

A generator belongs to one device. Numbers are drawn there and moved to the tensors' device, so a CPU generator can
drive CUDA tensors (the same numbers as for CPU tensors) and a CUDA generator draws where the tensors live (faster
for whole noise maps). Without a generator, torch's global generator of ``device`` is used.
"""
import bisect
import itertools
from typing import Sequence

import torch

Size = int | Sequence[int]


def _source(generator: torch.Generator | None, device: torch.device | str) -> torch.device:
    return generator.device if generator is not None else torch.device(device)


def rand(size: Size, generator: torch.Generator | None, device: torch.device | str,
         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform numbers in [0, 1) of shape ``size`` on ``device``."""
    return torch.rand(size, generator=generator, device=_source(generator, device), dtype=dtype).to(device)


def randn(size: Size, generator: torch.Generator | None, device: torch.device | str,
          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal numbers of shape ``size`` on ``device``."""
    return torch.randn(size, generator=generator, device=_source(generator, device), dtype=dtype).to(device)


def uniform(low: float, high: float, size: Size, generator: torch.Generator | None,
            device: torch.device | str) -> torch.Tensor:
    """Uniform numbers in [low, high) of shape ``size`` on ``device``."""
    return low + (high - low) * rand(size, generator, device)


def poisson(rate: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Poisson counts with the given rates, on the rates' device."""
    source = _source(generator, rate.device)
    return torch.poisson(rate.to(source), generator=generator).to(rate.device)


def uniform_scalar(low: float, high: float, generator: torch.Generator | None) -> float:
    """One uniform number in [low, high)."""
    return low + (high - low) * rand((), generator, 'cpu' if generator is None else generator.device).item()


def choice(weights: Sequence[float], generator: torch.Generator | None) -> int:
    """An index drawn with probabilities proportional to ``weights``."""
    cumulative = list(itertools.accumulate(weights))
    if not cumulative or cumulative[-1] <= 0 or min(weights) < 0:
        raise ValueError(f'choice needs non-negative weights with a positive sum, got {list(weights)}.')
    position = uniform_scalar(0.0, cumulative[-1], generator)
    return min(bisect.bisect_right(cumulative, position), len(cumulative) - 1)


def randint_scalar(low: int, high: int, generator: torch.Generator | None) -> int:
    """One integer in [low, high] (both ends included, like ``random.randint``)."""
    return low + choice([1.0] * (high - low + 1), generator)


def permutation(n: int, generator: torch.Generator | None) -> list[int]:
    """A random order of ``range(n)``."""
    device = 'cpu' if generator is None else generator.device
    return torch.randperm(n, generator=generator, device=device).tolist()
