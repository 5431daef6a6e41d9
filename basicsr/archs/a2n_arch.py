"""A2N, Attention in Attention Network (Chen, Gu and Zhang 2021, arXiv 2104.09497), with the parameter names of the
official code (``haoyuc/A2N``, class ``AAN``), whose x2/x3/x4 files load unchanged."""
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import ARCH_REGISTRY


class PixelAttention(nn.Module):
    """``x * sigmoid(conv1x1(x))`` (key ``conv``; the official ``PA``)."""

    def __init__(self, num_feat: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(num_feat, num_feat, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv(x))


class AttentionBranch(nn.Module):
    """``k4(k3(x) * sigmoid(k2(lrelu(k1(x)))))``: a 3x3 feature path gated by a pixel-attention map."""

    def __init__(self, num_feat: int) -> None:
        super().__init__()
        self.k1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        self.k2 = nn.Conv2d(num_feat, num_feat, 1)
        self.k3 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False)
        self.k4 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.k2(self.lrelu(self.k1(x))))
        return self.k4(self.k3(x) * gate)


class AAB(nn.Module):
    """Attention in attention block: the attention dropout module (``ADM``) looks at the pooled features and weights
    the attention branch against a plain 3x3 conv (``non_attention``) by a softmax at ``temperature`` over K=2."""

    def __init__(self, num_feat: int, reduction: int, temperature: float) -> None:
        super().__init__()
        self.temperature = temperature
        self.conv_first = nn.Conv2d(num_feat, num_feat, 1, bias=False)
        self.conv_last = nn.Conv2d(num_feat, num_feat, 1, bias=False)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        self.ADM = nn.Sequential(nn.Linear(num_feat, num_feat // reduction, bias=False), nn.ReLU(inplace=True),
                                 nn.Linear(num_feat // reduction, 2, bias=False))
        self.attention = AttentionBranch(num_feat)
        self.non_attention = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.lrelu(self.conv_first(x))
        weights = F.softmax(self.ADM(feat.mean(dim=(2, 3))) / self.temperature, dim=1)[:, :, None, None]
        mixed = self.attention(feat) * weights[:, 0:1] + self.non_attention(feat) * weights[:, 1:2]
        return x + self.conv_last(self.lrelu(mixed))


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 8, 'num_up_feat': 8, 'num_block': 1}, official_config={'upscale': 4})
class A2N(nn.Module):
    """A2N: ``num_block`` AABs with a long skip; nearest-neighbour upsampling + conv + pixel attention + conv per x2
    stage (one stage of x2 or x3, two for x4); a bilinearly upsampled input added at the end.

    Defaults are the paper's A2N (nf 40, unf 24, 16 AABs, reduction 4, t = 30).

    Args:
        num_in_ch / num_out_ch: image channels (equal, because of the input skip).
        num_feat: trunk channels (nf). num_up_feat: upsampler channels (unf). num_block: AABs.
        reduction: channel reduction of the attention dropout module. temperature: its softmax temperature.
        upscale: 2, 3 or 4.
        img_range: the network works on ``x * img_range``; the official weights were trained on [0, 255] input.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 40, num_up_feat: int = 24,
                 num_block: int = 16, reduction: int = 4, temperature: float = 30.0, upscale: int = 4,
                 img_range: float = 255.0) -> None:
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError(f'A2N supports upscale 2, 3 and 4, got {upscale}.')
        if num_in_ch != num_out_ch:
            raise ValueError(f'A2N adds its upsampled input to the output: num_in_ch ({num_in_ch}) must equal '
                             f'num_out_ch ({num_out_ch}).')
        self.upscale = upscale
        self.img_range = img_range
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.AAB_trunk = nn.Sequential(*(AAB(num_feat, reduction, temperature) for _ in range(num_block)))
        self.trunk_conv = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.upconv1 = nn.Conv2d(num_feat, num_up_feat, 3, 1, 1)
        self.att1 = PixelAttention(num_up_feat)
        self.HRconv1 = nn.Conv2d(num_up_feat, num_up_feat, 3, 1, 1)
        if upscale == 4:
            self.upconv2 = nn.Conv2d(num_up_feat, num_up_feat, 3, 1, 1)
            self.att2 = PixelAttention(num_up_feat)
            self.HRconv2 = nn.Conv2d(num_up_feat, num_up_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_up_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.img_range
        feat = self.conv_first(x)
        feat = feat + self.trunk_conv(self.AAB_trunk(feat))
        if self.upscale == 4:
            feat = self._up_stage(feat, 2, self.upconv1, self.att1, self.HRconv1)
            feat = self._up_stage(feat, 2, self.upconv2, self.att2, self.HRconv2)
        else:
            feat = self._up_stage(feat, self.upscale, self.upconv1, self.att1, self.HRconv1)
        out = self.conv_last(feat)
        out = out + F.interpolate(x, scale_factor=self.upscale, mode='bilinear', align_corners=False)
        return out / self.img_range

    def _up_stage(self, feat: torch.Tensor, factor: int, upconv: nn.Conv2d, attention: PixelAttention,
                  hr_conv: nn.Conv2d) -> torch.Tensor:
        feat = upconv(F.interpolate(feat, scale_factor=factor, mode='nearest'))
        return self.lrelu(hr_conv(self.lrelu(attention(feat))))
