"""EDSR (Lim et al., CVPRW 2017): a deep stack of residual blocks without batch normalisation, BasicSR's key names
and arguments.

Also loads the layout of the authors' EDSR-PyTorch files (``edsr_x4-4f62e9ef.pt`` and the baselines), whose mean
shift is two 1x1 convolutions; here it is a fixed mean, so those must hold this network's ``rgb_mean``.
"""
import torch
from torch import nn

from basicsr.archs.arch_util import ResidualBlockNoBN, Upsample, make_layer
from basicsr.archs.key_layouts import from_mean_shift_layout
from basicsr.archs.rcan_arch import DIV2K_RGB_MEAN
from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register()
class EDSR(nn.Module):
    """Enhanced Deep Super-Resolution network, laid out as BasicSR's ``EDSR``.

    The input (RGB in [0, 1]) has ``rgb_mean`` subtracted and is scaled by ``img_range``, as EDSR-PyTorch feeds
    [0, 255] images; the output is mapped back. The paper's two models: EDSR-baseline (64 features, 16 blocks,
    ``res_scale`` 1, the defaults) and EDSR (256 features, 32 blocks, ``res_scale`` 0.1).

    Args:
        num_in_ch / num_out_ch: image channels (``rgb_mean`` has one value per channel).
        num_feat: feature channels. num_block: residual blocks. upscale: 2, 3, 4 or 8.
        res_scale: scale of each block's residual branch (0.1 keeps the wide model stable).
        img_range: pixel range the convolutions work in. rgb_mean: pixel mean of the training set (DIV2K).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16,
                 upscale: int = 4, res_scale: float = 1.0, img_range: float = 255.0,
                 rgb_mean: tuple[float, ...] = DIV2K_RGB_MEAN) -> None:
        super().__init__()
        if not len(rgb_mean) == num_in_ch == num_out_ch:
            raise ValueError(f'EDSR: rgb_mean needs one value per channel ({num_in_ch} in, {num_out_ch} out), '
                             f'got {list(rgb_mean)}.')
        self.img_range = img_range
        # A fixed statistic, not a weight: kept out of the state dict, as in BasicSR's files.
        self.register_buffer('mean', torch.tensor(rgb_mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        # PyTorch's default initialisation, as BasicSR's EDSR and EDSR-PyTorch use
        self.body = make_layer(ResidualBlockNoBN, num_block, num_feat=num_feat, res_scale=res_scale,
                               pytorch_init=True)
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.upsample = Upsample(upscale, num_feat)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_first((x - self.mean) * self.img_range)
        x = x + self.conv_after_body(self.body(x))
        return self.conv_last(self.upsample(x)) / self.img_range + self.mean

    def convert_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Accept EDSR-PyTorch's layout, whose mean shift must match ``rgb_mean`` at ``img_range``."""
        return from_mean_shift_layout(state, 'EDSR', self.mean, self.img_range)
