"""SRResNet family: BasicSR's modified SRResNet (no BatchNorm)."""
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.arch_util import ResidualBlockNoBN, default_init_weights, make_layer
from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register()
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
