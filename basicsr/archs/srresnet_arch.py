"""SRResNet family: BasicSR's modified SRResNet (no BatchNorm) and SRGAN's original SRResNet (BatchNorm, PReLU)."""
import math

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.arch_util import ResidualBlockNoBN, default_init_weights, make_layer
from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 8, 'num_block': 1}, official_config={'upscale': 4})
class MSRResNet(nn.Module):
    """Modified SRResNet (BasicSR): residual blocks without BatchNorm, pixel-shuffle upsampling, and the
    bilinearly upsampled input added to the output. Key names match BasicSR, so its weights load strictly.

    Args:
        num_in_ch / num_out_ch: image channels.
        num_feat: feature channels. num_block: residual blocks.
        upscale: 2, 3 or 4.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16,
                 upscale: int = 4) -> None:
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError(f'MSRResNet supports upscale 2, 3 and 4, got {upscale}.')
        self.upscale = upscale
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = make_layer(ResidualBlockNoBN, num_block, num_feat=num_feat)
        if upscale == 4:
            self.upconv1 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(2)
        else:
            self.upconv1 = nn.Conv2d(num_feat, num_feat * upscale * upscale, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(upscale)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

        upconvs = [self.upconv1, self.upconv2] if upscale == 4 else [self.upconv1]
        default_init_weights([self.conv_first, *upconvs, self.conv_hr, self.conv_last], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.body(self.lrelu(self.conv_first(x)))
        out = self.lrelu(self.pixel_shuffle(self.upconv1(feat)))
        if self.upscale == 4:
            out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        return out + F.interpolate(x, scale_factor=self.upscale, mode='bilinear', align_corners=False)


class BNResidualBlock(nn.Module):
    """SRGAN's residual block: ``x + BN(conv(PReLU(BN(conv(x)))))``, convolutions without bias (key ``rcb``)."""

    def __init__(self, num_feat: int) -> None:
        super().__init__()
        self.rcb = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False), nn.BatchNorm2d(num_feat), nn.PReLU(),
            nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False), nn.BatchNorm2d(num_feat))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rcb(x)


class PixelShuffleStage(nn.Module):
    """Conv to ``factor**2`` times the channels, pixel shuffle, PReLU (key ``upsample_block``)."""

    def __init__(self, num_feat: int, factor: int) -> None:
        super().__init__()
        self.upsample_block = nn.Sequential(
            nn.Conv2d(num_feat, num_feat * factor * factor, 3, 1, 1), nn.PixelShuffle(factor), nn.PReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample_block(x)


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 8, 'num_block': 1}, official_config={'upscale': 4})
class SRResNet(nn.Module):
    """SRResNet as in the SRGAN paper (Ledig et al. 2017): 9x9 head, BatchNorm + PReLU residual blocks, a conv + BN
    with a long skip, pixel-shuffle x2 stages (one x3 stage for x3), 9x9 tail.

    The authors published no code; the key names are those of the most faithful PyTorch port
    (Lornatang/SRGAN-PyTorch: ``conv1``, ``trunk.N.rcb``, ``conv2``, ``upsampling.N.upsample_block``, ``conv3``), so
    its files load. That port clamps the output to [0, 1]; here the output is left unclamped, which keeps gradients
    alive in training, and images are clamped when they are saved or measured anyway.

    Args:
        num_in_ch / num_out_ch: image channels. num_feat: feature channels. num_block: residual blocks.
        upscale: 2, 3, 4 or 8.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16,
                 upscale: int = 4) -> None:
        super().__init__()
        if upscale not in (2, 3, 4, 8):
            raise ValueError(f'SRResNet supports upscale 2, 3, 4 and 8, got {upscale}.')
        self.conv1 = nn.Sequential(nn.Conv2d(num_in_ch, num_feat, 9, 1, 4), nn.PReLU())
        self.trunk = nn.Sequential(*(BNResidualBlock(num_feat) for _ in range(num_block)))
        self.conv2 = nn.Sequential(nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False), nn.BatchNorm2d(num_feat))
        factors = [3] if upscale == 3 else [2] * int(math.log2(upscale))
        self.upsampling = nn.Sequential(*(PixelShuffleStage(num_feat, f) for f in factors))
        self.conv3 = nn.Conv2d(num_feat, num_out_ch, 9, 1, 4)
        default_init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv1(x)
        feat = feat + self.conv2(self.trunk(feat))
        return self.conv3(self.upsampling(feat))
