"""DSGAN (Fritsche et al., ICCVW 2019): a generator that learns a real-world degradation at low resolution, and its
per-pixel discriminator.

Key names are those of the official ``ManuelFritsche/real-world-sr`` code (``dsgan/model.py``), so its generator
weights load strictly (``param_key_g: model_g_state_dict`` for its ``.tar`` checkpoints); its discriminator files,
which hold the high-pass filter inside the network, are converted (:meth:`DSGANDiscriminator.convert_state_dict`).
"""
from collections import OrderedDict

import torch
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY


class PReLUResidualBlock(nn.Module):
    """``x + conv2(prelu(conv1(x)))``: no normalisation, no residual scaling."""

    def __init__(self, num_feat: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.prelu(self.conv1(x)))


@ARCH_REGISTRY.register(
    kind='degradation', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 8, 'num_block': 1}, official_config={})
class DSGANGenerator(nn.Module):
    """Maps a bicubic-downscaled clean image to the target domain at the same size (594,380 parameters with the
    defaults): conv + PReLU, ``num_block`` residual blocks, conv, sigmoid. There is no global skip connection.

    Args:
        num_in_ch / num_out_ch: image channels.
        num_feat: feature channels.
        num_block: residual blocks.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 8) -> None:
        super().__init__()
        self.block_input = nn.Sequential(nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.PReLU())
        self.res_blocks = nn.Sequential(*[PReLUResidualBlock(num_feat) for _ in range(num_block)])
        self.block_output = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.block_output(self.res_blocks(self.block_input(x))))


@ARCH_REGISTRY.register(
    kind='discriminator', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 4}, official_config={})
class DSGANDiscriminator(nn.Module):
    """A fully convolutional patch discriminator with stride 1, so it gives one logit per pixel (1,030,273
    parameters with the defaults): 5x5 convs ``num_in_ch -> num_feat -> 2 num_feat -> 4 num_feat`` (BatchNorm on the
    last two) with LeakyReLU 0.2, then a 1x1 conv to one channel. Its input is what the model shows it; DSGANModel
    and ESRGAN-FS show it the high-pass of the images (``train.frequency_separation``).
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(num_in_ch, num_feat, 5, 1, 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(num_feat, num_feat * 2, 5, 1, 2), nn.BatchNorm2d(num_feat * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(num_feat * 2, num_feat * 4, 5, 1, 2), nn.BatchNorm2d(num_feat * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(num_feat * 4, 1, 1, 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @staticmethod
    def convert_state_dict(state: 'OrderedDict[str, torch.Tensor]') -> 'OrderedDict[str, torch.Tensor]':
        """Accept the official layout (``net.net.*`` plus the filter's ``filter.*`` weights, which are dropped)."""
        if not any(key.startswith('net.net.') for key in state):
            return state
        return OrderedDict((key[len('net.'):], value) for key, value in state.items() if key.startswith('net.net.'))
