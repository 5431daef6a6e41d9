"""Building blocks shared by several networks."""
import math
from typing import Any, Callable, Iterable

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn import init

from basicsr.utils.errors import ShapeMismatchError
from basicsr.utils.logger import get_root_logger  # noqa: F401  (BasicSR 1.4.2 exposes it here)


@torch.no_grad()
def default_init_weights(module_list: nn.Module | Iterable[nn.Module], scale: float = 1.0, bias_fill: float = 0.0,
                         **kwargs: Any) -> None:
    """Kaiming-normal initialisation (fan-in; ``kwargs`` go to ``kaiming_normal_``) scaled by ``scale``, as BasicSR
    uses for residual networks.

    Scaling residual branches down (e.g. 0.1) keeps deep residual stacks close to identity at the start.
    """
    if isinstance(module_list, nn.Module):
        module_list = [module_list]
    for module in module_list:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.kaiming_normal_(m.weight, **kwargs)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                init.constant_(m.weight, 1)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)


def make_layer(basic_block: type[nn.Module], num_basic_block: int, **kwarg: Any) -> nn.Sequential:
    """``num_basic_block`` instances of ``basic_block(**kwarg)`` in a Sequential (keys ``0``, ``1``, ...)."""
    return nn.Sequential(*(basic_block(**kwarg) for _ in range(num_basic_block)))


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


def to_ntuple(n: int) -> Callable[[Any], tuple]:
    """A function giving ``n`` copies of a single value, or an iterable as a tuple (BasicSR's ``to_2tuple`` etc.,
    imported by plug-ins)."""

    def parse(x: Any) -> tuple:
        if isinstance(x, Iterable) and not isinstance(x, str):
            return tuple(x)
        return (x,) * n

    return parse


to_1tuple, to_2tuple, to_3tuple, to_4tuple = (to_ntuple(n) for n in range(1, 5))


def trunc_normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> torch.Tensor:
    """Fill ``tensor`` in place from N(mean, std^2) truncated to [a, b] (absolute bounds, not in units of std), as
    BasicSR's and timm's ``trunc_normal_`` do; transformers initialise their linear layers with std 0.02."""
    return init.trunc_normal_(tensor, mean, std, a, b)


def pixel_unshuffle(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Space-to-depth, the inverse of PixelShuffle (identical to BasicSR's helper)."""
    if x.shape[-2] % scale or x.shape[-1] % scale:
        raise ShapeMismatchError(f'pixel_unshuffle: the height and width must be multiples of {scale}, got '
                                 f'{x.shape[-2]}x{x.shape[-1]}.')
    return F.pixel_unshuffle(x, scale)


def flow_warp(x: torch.Tensor, flow: torch.Tensor, interp_mode: str = 'bilinear', padding_mode: str = 'zeros',
              align_corners: bool = True) -> torch.Tensor:
    """Sample ``x`` (N, C, H, W) at each pixel's position plus ``flow`` (N, H, W, 2; x then y offsets in pixels),
    with ``grid_sample`` (BasicSR's helper for flow-based alignment)."""
    if x.shape[-2:] != flow.shape[1:3] or flow.shape[-1] != 2:
        raise ShapeMismatchError(f'flow_warp: flow must be (N, H, W, 2) for an (N, C, H, W) input, got '
                                 f'{tuple(flow.shape)} for {tuple(x.shape)}.')
    h, w = x.shape[-2:]
    grid_y, grid_x = torch.meshgrid(torch.arange(h, dtype=flow.dtype, device=flow.device),
                                    torch.arange(w, dtype=flow.dtype, device=flow.device), indexing='ij')
    position = torch.stack((grid_x, grid_y), dim=2) + flow
    # to grid_sample's [-1, 1] coordinates (corner pixel centres at -1 and 1 with align_corners)
    normalised = torch.stack((2 * position[..., 0] / max(w - 1, 1) - 1, 2 * position[..., 1] / max(h - 1, 1) - 1),
                             dim=3)
    return F.grid_sample(x, normalised.to(x.dtype), mode=interp_mode, padding_mode=padding_mode,
                         align_corners=align_corners)


def resize_flow(flow: torch.Tensor, size_type: str, sizes: tuple[float, float] | list[float],
                interp_mode: str = 'bilinear', align_corners: bool = False) -> torch.Tensor:
    """Resize a flow (N, 2, H, W) by ``sizes`` = (ratio_h, ratio_w) (``size_type='ratio'``) or to
    (out_h, out_w) (``'shape'``), its vectors scaled with the image."""
    flow_h, flow_w = flow.shape[-2:]
    if size_type == 'ratio':
        out_h, out_w = int(flow_h * sizes[0]), int(flow_w * sizes[1])
    elif size_type == 'shape':
        out_h, out_w = int(sizes[0]), int(sizes[1])
    else:
        raise ValueError(f"resize_flow: size_type must be 'ratio' or 'shape', got '{size_type}'.")
    ratios = torch.tensor([out_w / flow_w, out_h / flow_h], dtype=flow.dtype, device=flow.device)
    scaled = flow * ratios.view(1, 2, 1, 1)
    return F.interpolate(scaled, size=(out_h, out_w), mode=interp_mode, align_corners=align_corners)


class MeanShiftedResidualSR(nn.Module):
    """The outer structure EDSR and RCAN share (EDSR-PyTorch's): subtract the pixel mean and scale to ``img_range``,
    ``conv_first``, a residual ``body`` closed by ``conv_after_body``, ``upsample``, ``conv_last``, then map back.

    Subclasses build ``body`` (after calling ``__init__``); the official files' mean-shift convolutions load through
    :meth:`convert_state_dict` when they match ``rgb_mean``. The mean is a fixed statistic, kept out of the state
    dict as in BasicSR's files.
    """

    def __init__(self, arch: str, num_in_ch: int, num_out_ch: int, num_feat: int, upscale: int, img_range: float,
                 rgb_mean: Iterable[float]) -> None:
        super().__init__()
        rgb_mean = list(rgb_mean)
        if not len(rgb_mean) == num_in_ch == num_out_ch:
            raise ValueError(f'{arch}: rgb_mean needs one value per channel ({num_in_ch} in, {num_out_ch} out), '
                             f'got {rgb_mean}.')
        self.arch, self.img_range = arch, img_range
        self.register_buffer('mean', torch.tensor(rgb_mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body: nn.Module = nn.Identity()  # set by the subclass
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.upsample = Upsample(upscale, num_feat)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_first((x - self.mean) * self.img_range)
        x = x + self.conv_after_body(self.body(x))
        return self.conv_last(self.upsample(x)) / self.img_range + self.mean

    def convert_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Accept the official layout, whose mean shift must match ``rgb_mean`` at ``img_range``."""
        from basicsr.archs.key_layouts import from_mean_shift_layout  # key_layouts is not needed to build networks
        return from_mean_shift_layout(state, self.arch, self.mean, self.img_range)
