"""Building blocks shared by several networks."""
import math
from typing import Any, Iterable

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn import init


@torch.no_grad()
def default_init_weights(modules: nn.Module | Iterable[nn.Module], scale: float = 1.0, bias_fill: float = 0.0) -> None:
    """Kaiming-normal initialisation (fan-in) scaled by ``scale``, as BasicSR uses for residual networks.

    Scaling residual branches down (e.g. 0.1) keeps deep residual stacks close to identity at the start.
    """
    if isinstance(modules, nn.Module):
        modules = [modules]
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.kaiming_normal_(m.weight)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                init.constant_(m.weight, 1)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)


def make_layer(block: type[nn.Module], num_blocks: int, **kwargs) -> nn.Sequential:
    """``num_blocks`` instances of ``block(**kwargs)`` in a Sequential (keys ``0``, ``1``, ...)."""
    return nn.Sequential(*(block(**kwargs) for _ in range(num_blocks)))


class ResidualBlockNoBN(nn.Module):
    """``x + conv2(relu(conv1(x))) * res_scale`` (EDSR/MSRResNet block, keys ``conv1``/``conv2``)."""

    def __init__(self, num_feat: int = 64, res_scale: float = 1.0, pytorch_init: bool = False) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        if not pytorch_init:
            default_init_weights([self.conv1, self.conv2], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


class Upsample(nn.Sequential):
    """Conv + PixelShuffle upsampler for scale 2^n or 3 (keys ``0``, ``2``, ... for the convolutions)."""

    def __init__(self, scale: int, num_feat: int) -> None:
        layers: list[nn.Module] = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f'scale {scale} is not supported: use a power of 2 or 3.')
        super().__init__(*layers)


def to_2tuple(x: Any) -> tuple:
    """``(x, x)`` for a single value, ``tuple(x)`` for an iterable (BasicSR's helper, imported by plug-ins)."""
    if isinstance(x, Iterable) and not isinstance(x, str):
        return tuple(x)
    return (x, x)


def trunc_normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> torch.Tensor:
    """Fill ``tensor`` in place from N(mean, std^2) truncated to [a, b] (absolute bounds, not in units of std), as
    BasicSR's and timm's ``trunc_normal_`` do; transformers initialise their linear layers with std 0.02."""
    return init.trunc_normal_(tensor, mean, std, a, b)


def pixel_unshuffle(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Space-to-depth, the inverse of PixelShuffle (identical to BasicSR's helper)."""
    return F.pixel_unshuffle(x, scale)
