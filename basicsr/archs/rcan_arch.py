"""RCAN (Zhang et al. 2018): residual groups of channel-attention blocks, BasicSR's key names and arguments.

Loads the official repository's layout as well (the layout spandrel/chaiNNer/ComfyUI expect), whose mean shift
is two 1x1 convolutions; here it is a fixed mean, so those must hold this network's ``rgb_mean``.
"""
import torch
from torch import nn

from basicsr.archs.arch_util import MeanShiftedResidualSR, make_layer
from basicsr.archs.arch_util import Upsample  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.registry import ARCH_REGISTRY

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: global average, 1x1 down by ``squeeze_factor``, ReLU, 1x1 up, sigmoid gate."""

    def __init__(self, num_feat: int, squeeze_factor: int) -> None:
        super().__init__()
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(num_feat, num_feat // squeeze_factor, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_feat // squeeze_factor, num_feat, 1),
            nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class RCAB(nn.Module):
    """Residual channel-attention block: ``x + CA(conv(relu(conv(x)))) * res_scale`` (keys ``rcab.0/2/3``)."""

    def __init__(self, num_feat: int, squeeze_factor: int, res_scale: float) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.rcab = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(num_feat, num_feat, 3, 1, 1),
            ChannelAttention(num_feat, squeeze_factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rcab(x) * self.res_scale


class ResidualGroup(nn.Module):
    """``num_block`` RCABs and a convolution, with a skip around them."""

    def __init__(self, num_feat: int, num_block: int, squeeze_factor: int, res_scale: float) -> None:
        super().__init__()
        self.residual_group = make_layer(RCAB, num_block, num_feat=num_feat, squeeze_factor=squeeze_factor,
                                         res_scale=res_scale)
        self.conv = nn.Conv2d(num_feat, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.residual_group(x))


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 16, 'num_group': 1, 'num_block': 1}, official_config={'upscale': 4})
class RCAN(MeanShiftedResidualSR):
    """Residual Channel Attention Network, laid out as BasicSR's ``RCAN``.

    The input (RGB in [0, 1]) has ``rgb_mean`` subtracted and is scaled by ``img_range``, as the official code
    feeds [0, 255] images; the output is mapped back. ``num_block`` defaults to the paper's 20 (BasicSR's class
    default is 16, its option files set 20).

    Args:
        num_in_ch / num_out_ch: image channels (``rgb_mean`` has one value per channel).
        num_feat: feature channels. num_group: residual groups. num_block: RCABs per group.
        squeeze_factor: channel reduction of the attention. upscale: 2, 3, 4 or 8.
        res_scale: scale of each RCAB's residual (the official code ignores it; 1 in every published model).
        img_range: pixel range the convolutions work in. rgb_mean: pixel mean of the training set (DIV2K).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_group: int = 10,
                 num_block: int = 20, squeeze_factor: int = 16, upscale: int = 4, res_scale: float = 1.0,
                 img_range: float = 255.0, rgb_mean: tuple[float, ...] = DIV2K_RGB_MEAN) -> None:
        super().__init__('RCAN', num_in_ch, num_out_ch, num_feat, upscale, img_range, rgb_mean)
        self.body = make_layer(ResidualGroup, num_group, num_feat=num_feat, num_block=num_block,
                               squeeze_factor=squeeze_factor, res_scale=res_scale)
