"""Real-ESRGAN's compact network (the ``realesr-animevideov3`` / ``realesr-general-x4v3`` models)."""
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import ARCH_REGISTRY


def _activation(act_type: str, num_feat: int) -> nn.Module:
    if act_type == 'prelu':
        return nn.PReLU(num_parameters=num_feat)
    if act_type == 'relu':
        return nn.ReLU(inplace=True)
    if act_type == 'leakyrelu':
        return nn.LeakyReLU(negative_slope=0.1, inplace=True)
    raise ValueError(f"act_type must be 'prelu', 'relu' or 'leakyrelu', got '{act_type}'.")


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0', spandrel_arch='Compact',
    tiny_config={'num_feat': 8, 'num_conv': 1}, official_config={'num_feat': 64, 'num_conv': 16, 'upscale': 4})
class SRVGGNetCompact(nn.Module):
    """A plain stack of 3x3 convolutions at the LQ resolution, upsampled once at the end by pixel shuffle; the
    nearest-neighbour upscaled input is added, so the convolutions learn the residual.

    Keys follow Real-ESRGAN's published weights: ``body.0`` (first conv), ``body.1`` (its activation; PReLU weights
    per channel), then ``num_conv`` (conv, activation) pairs, and the last conv ``body.{2 num_conv + 2}`` with
    ``num_out_ch * upscale^2`` outputs.

    Args:
        num_in_ch / num_out_ch: image channels.
        num_feat: feature channels.
        num_conv: convolutions between the first and the last.
        upscale: scale factor.
        act_type: 'prelu', 'relu' or 'leakyrelu' (slope 0.1).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_conv: int = 16,
                 upscale: int = 4, act_type: Literal['prelu', 'relu', 'leakyrelu'] = 'prelu') -> None:
        super().__init__()
        self.upscale = upscale
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.upscale, mode='nearest')
