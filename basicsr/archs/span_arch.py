"""SPAN (Wan et al., CVPRW 2024, *Swift Parameter-free Attention Network for Efficient Super-Resolution*), the
winner of the NTIRE 2024 efficient-SR challenge, with the key names of the official ``hongyuanyu/SPAN`` network, so
its files load strictly and spandrel reads the files this one writes.

Every 3x3 convolution is re-parameterised (``Conv3XC``): trained as two branches, evaluated as the single
convolution ``eval_conv`` they add up to. As in the official code, ``eval_conv`` is a parameter of the file that is
recomputed from the branches at every evaluation call, so it always matches them.

Unlike EDSR, the output is not mapped back: the input is ``(x - rgb_mean) * img_range`` and the last convolution
gives the image in [0, 1] directly.
"""
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.rcan_arch import DIV2K_RGB_MEAN
from basicsr.utils.registry import ARCH_REGISTRY


class Conv3XC(nn.Module):
    """A 3x3 convolution trained as ``sk`` (1x1) + ``conv`` (1x1 up by ``gain``, unpadded 3x3 on the zero-padded
    input, 1x1 down) and evaluated as ``eval_conv``, their sum folded into one 3x3 convolution (zero padding)."""

    def __init__(self, c_in: int, c_out: int, gain: int = 2) -> None:
        super().__init__()
        self.sk = nn.Conv2d(c_in, c_out, 1)
        self.conv = nn.Sequential(nn.Conv2d(c_in, c_in * gain, 1), nn.Conv2d(c_in * gain, c_out * gain, 3),
                                  nn.Conv2d(c_out * gain, c_out, 1))
        self.eval_conv = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.eval_conv.requires_grad_(False)
        self.update_params()

    @torch.no_grad()
    def update_params(self) -> None:
        """Fold the branches into ``eval_conv``: 1x1 then 3x3 then 1x1 compose into one 3x3 (the first bias passes
        through the later kernels), and the 1x1 shortcut adds to the kernel's centre."""
        first, middle, last = self.conv
        weight = torch.einsum('omhw,mi->oihw', middle.weight, first.weight[:, :, 0, 0])
        bias = middle.weight.sum((2, 3)) @ first.bias + middle.bias
        weight = torch.einsum('om,mihw->oihw', last.weight[:, :, 0, 0], weight)
        bias = last.weight[:, :, 0, 0] @ bias + last.bias
        self.eval_conv.weight.copy_(weight + F.pad(self.sk.weight, (1, 1, 1, 1)))
        self.eval_conv.bias.copy_(bias + self.sk.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.conv(F.pad(x, (1, 1, 1, 1))) + self.sk(x)
        self.update_params()
        return self.eval_conv(x)


class SPAB(nn.Module):
    """Swift parameter-free attention block: three Conv3XC with SiLU between them; the attention
    ``sigmoid(out3) - 0.5`` (symmetric about zero, no parameters) weights ``out3 + x``.

    Returns the block's output and its first convolution's output (which the network's fusion reads).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1_r = Conv3XC(channels, channels)
        self.c2_r = Conv3XC(channels, channels)
        self.c3_r = Conv3XC(channels, channels)
        self.act1 = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out1 = self.c1_r(x)
        out3 = self.c3_r(self.act1(self.c2_r(self.act1(out1))))
        return (out3 + x) * (torch.sigmoid(out3) - 0.5), out1


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0', spandrel_arch='SPAN',
    tiny_config={'feature_channels': 8}, official_config={'feature_channels': 48, 'upscale': 4})
class SPAN(nn.Module):
    """SPAN: a Conv3XC, six SPABs, a Conv3XC on the last one's output, a 1x1 fusion of the first features, the
    first and last blocks' outputs and the last block's first convolution (``conv_cat``), then conv + pixel
    shuffle (``upsampler``). The NTIRE 2024 model has 48 feature channels.

    Args:
        num_in_ch / num_out_ch: image channels (three: ``rgb_mean`` is RGB). feature_channels: width.
        upscale: scale factor (one pixel-shuffle step of any factor).
        img_range / rgb_mean: the input is ``(x - rgb_mean) * img_range``.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, feature_channels: int = 48, upscale: int = 4,
                 img_range: float = 255.0, rgb_mean: tuple[float, ...] = DIV2K_RGB_MEAN) -> None:
        super().__init__()
        if len(rgb_mean) != num_in_ch:
            raise ValueError(f'SPAN: rgb_mean needs one value per input channel ({num_in_ch}), got {list(rgb_mean)}.')
        self.img_range = img_range
        self.register_buffer('mean', torch.tensor(rgb_mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.conv_1 = Conv3XC(num_in_ch, feature_channels)
        for i in range(1, 7):
            setattr(self, f'block_{i}', SPAB(feature_channels))
        self.conv_cat = nn.Conv2d(feature_channels * 4, feature_channels, 1)
        self.conv_2 = Conv3XC(feature_channels, feature_channels)
        self.upsampler = nn.Sequential(nn.Conv2d(feature_channels, num_out_ch * upscale**2, 3, 1, 1),
                                       nn.PixelShuffle(upscale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv_1((x - self.mean) * self.img_range)
        first, _ = self.block_1(features)
        out = first
        for i in range(2, 7):
            out, last_first_conv = getattr(self, f'block_{i}')(out)
        out = self.conv_cat(torch.cat([features, self.conv_2(out), first, last_first_conv], 1))
        return self.upsampler(out)
