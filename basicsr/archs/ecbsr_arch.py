"""ECBSR (Zhang et al., "Edge-oriented Convolution Block for Real-time Super Resolution on Mobile Devices", ACM MM
2021): every layer trains as five parallel branches (3x3 conv, 1x1-3x3 expand-squeeze, 1x1 followed by learnable
Sobel-x, Sobel-y and Laplacian filters, and an optional identity) and is re-parameterised into one 3x3 convolution
for inference (evaluation mode). Arguments and state-dict keys as BasicSR's ``basicsr.archs.ecbsr_arch``.
"""
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import ARCH_REGISTRY

# The fixed 3x3 edge filters of the SeqConv3x3 edge branches; each output channel scales its copy by a learnt factor.
EDGE_FILTERS = {
    'conv1x1-sobelx': ((1., 0., -1.), (2., 0., -2.), (1., 0., -1.)),
    'conv1x1-sobely': ((1., 2., 1.), (0., 0., 0.), (-1., -2., -1.)),
    'conv1x1-laplacian': ((0., 1., 0.), (1., -4., 1.), (0., 1., 0.)),
}
SEQ_TYPES = ('conv1x1-conv3x3', *EDGE_FILTERS)
ACT_TYPES = ('prelu', 'relu', 'rrelu', 'softplus', 'linear')


class SeqConv3x3(nn.Module):
    """A 1x1 convolution followed by a 3x3 one: a learnt dense 3x3 (``conv1x1-conv3x3``, through
    ``out_channels * depth_multiplier`` middle channels) or a per-channel scaled edge filter (the other types).

    The 1x1 output is padded with its bias rather than zeros, so the pair equals the single 3x3 convolution of
    :meth:`rep_params` with zero padding, also at the borders.
    """

    def __init__(self, seq_type: str, in_channels: int, out_channels: int, depth_multiplier: float = 1) -> None:
        super().__init__()
        if seq_type not in SEQ_TYPES:
            raise ValueError(f"seq_type must be one of {', '.join(SEQ_TYPES)}; got '{seq_type}'.")
        self.seq_type = seq_type
        self.out_channels = out_channels
        mid_channels = int(out_channels * depth_multiplier) if seq_type == 'conv1x1-conv3x3' else out_channels
        first = nn.Conv2d(in_channels, mid_channels, kernel_size=1)
        self.k0, self.b0 = first.weight, first.bias
        if seq_type == 'conv1x1-conv3x3':
            second = nn.Conv2d(mid_channels, out_channels, kernel_size=3)
            self.k1, self.b1 = second.weight, second.bias
        else:
            self.scale = nn.Parameter(torch.randn(out_channels, 1, 1, 1) * 1e-3)
            self.bias = nn.Parameter(torch.randn(out_channels) * 1e-3)
            edge = torch.tensor(EDGE_FILTERS[seq_type])
            self.register_buffer('mask', edge.expand(out_channels, 1, 3, 3).clone())

    def _second_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The 3x3 convolution after the 1x1 one, as a dense (out, mid, 3, 3) kernel and its bias."""
        if self.seq_type == 'conv1x1-conv3x3':
            return self.k1, self.b1
        depthwise = (self.scale * self.mask)[:, 0]  # (out, 3, 3)
        return torch.diag_embed(depthwise.permute(1, 2, 0)).permute(2, 3, 0, 1), self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y0 = F.pad(F.conv2d(x, self.k0), (1, 1, 1, 1)) + self.b0.view(1, -1, 1, 1)
        if self.seq_type == 'conv1x1-conv3x3':
            return F.conv2d(y0, self.k1, self.b1)
        return F.conv2d(y0, self.scale * self.mask, self.bias, groups=self.out_channels)

    def rep_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The (out, in, 3, 3) weight and bias of the single convolution this pair equals."""
        kernel, bias = self._second_kernel()
        weight = torch.einsum('omhw,mi->oihw', kernel, self.k0[:, :, 0, 0])
        return weight, bias + torch.einsum('omhw,m->o', kernel, self.b0)


def _activation(act_type: str, channels: int) -> nn.Module | None:
    if act_type == 'prelu':
        return nn.PReLU(num_parameters=channels)
    if act_type == 'relu':
        return nn.ReLU(inplace=True)
    if act_type == 'rrelu':
        return nn.RReLU(lower=-0.05, upper=0.05)
    if act_type == 'softplus':
        return nn.Softplus()
    if act_type == 'linear':
        return None
    raise ValueError(f"act_type must be one of {', '.join(ACT_TYPES)}; got '{act_type}'.")


class ECB(nn.Module):
    """Edge-oriented convolution block: the five branches summed while training (plus the input when
    ``with_idt`` and the channel counts agree), their re-parameterised 3x3 convolution in eval mode, then the
    activation."""

    def __init__(self, in_channels: int, out_channels: int, depth_multiplier: float, act_type: str = 'prelu',
                 with_idt: bool = False) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.with_idt = with_idt and in_channels == out_channels
        self.conv3x3 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.conv1x1_3x3 = SeqConv3x3('conv1x1-conv3x3', in_channels, out_channels, depth_multiplier)
        self.conv1x1_sbx = SeqConv3x3('conv1x1-sobelx', in_channels, out_channels)
        self.conv1x1_sby = SeqConv3x3('conv1x1-sobely', in_channels, out_channels)
        self.conv1x1_lpl = SeqConv3x3('conv1x1-laplacian', in_channels, out_channels)
        act = _activation(act_type, out_channels)
        if act is not None:  # 'linear' has no module, so no ``act`` key (as BasicSR)
            self.act = act

    def _branches(self) -> tuple[nn.Module, ...]:
        return self.conv1x1_3x3, self.conv1x1_sbx, self.conv1x1_sby, self.conv1x1_lpl

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            y = self.conv3x3(x) + sum(branch(x) for branch in self._branches())
            if self.with_idt:
                y = y + x
        else:
            y = F.conv2d(x, *self.rep_params(), padding=1)
        return self.act(y) if hasattr(self, 'act') else y

    def rep_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The weight and bias of the single 3x3 convolution that equals the branches (and the identity)."""
        weight, bias = self.conv3x3.weight, self.conv3x3.bias
        for branch in self._branches():
            branch_weight, branch_bias = branch.rep_params()
            weight, bias = weight + branch_weight, bias + branch_bias
        if self.with_idt:
            identity = torch.zeros_like(weight)
            identity[:, :, 1, 1] = torch.eye(self.out_channels, device=weight.device, dtype=weight.dtype)
            weight = weight + identity
        return weight, bias


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0', input_multiple=1,
    tiny_config={'num_block': 1, 'num_channel': 4, 'scale': 4},
    # ECBSR-M4C16 x4, the official repository's default configuration
    official_config={'num_in_ch': 3, 'num_out_ch': 3, 'num_block': 4, 'num_channel': 16, 'with_idt': False,
                     'act_type': 'prelu', 'scale': 4})
class ECBSR(nn.Module):
    """ECBSR: an ECB from the input to ``num_channel``, ``num_block`` ECBs, a linear ECB to ``num_out_ch * scale^2``
    channels, plus the input repeated ``scale^2`` times per channel, then pixel shuffle.

    Args:
        num_in_ch / num_out_ch: image channels (1 for the paper's Y-channel models).
        num_block: ECBs in the trunk (the paper's M).
        num_channel: feature channels (the paper's C).
        with_idt: add identity branches where the channel counts agree.
        act_type: 'prelu', 'relu', 'rrelu', 'softplus' or 'linear'.
        scale: upscaling factor.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_block: int = 4, num_channel: int = 16,
                 with_idt: bool = False, act_type: Literal['prelu', 'relu', 'rrelu', 'softplus', 'linear'] = 'prelu',
                 scale: int = 4) -> None:
        super().__init__()
        self.scale = scale
        blocks = [ECB(num_in_ch, num_channel, 2.0, act_type, with_idt)]
        blocks += [ECB(num_channel, num_channel, 2.0, act_type, with_idt) for _ in range(num_block)]
        blocks.append(ECB(num_channel, num_out_ch * scale * scale, 2.0, 'linear', with_idt))
        self.backbone = nn.Sequential(*blocks)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # a one-channel input broadcasts over all output channels, as in BasicSR
        shortcut = x if x.shape[1] == 1 else torch.repeat_interleave(x, self.scale * self.scale, dim=1)
        return self.upsampler(self.backbone(x) + shortcut)
