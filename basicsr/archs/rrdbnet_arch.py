"""ESRGAN's RRDBNet (Wang et al. 2018) with BasicSR's key names; loads the ESRGAN repository's layouts too."""
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.arch_util import default_init_weights, make_layer, pixel_unshuffle
from basicsr.archs.key_layouts import BASICSR, detect_layout, rename_keys
from basicsr.utils.registry import ARCH_REGISTRY

RESIDUAL_SCALE = 0.2  # ESRGAN's residual scaling, inside the dense blocks and around each RRDB


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convolutions, each seeing the block input and all earlier outputs (keys ``conv1`` .. ``conv5``)."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        default_init_weights([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(self.lrelu(conv(torch.cat(feats, 1))))
        return self.conv5(torch.cat(feats, 1)) * RESIDUAL_SCALE + x


class RRDB(nn.Module):
    """Residual in Residual Dense Block: three dense blocks and a scaled skip (keys ``rdb1`` .. ``rdb3``)."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * RESIDUAL_SCALE + x


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0', spandrel_arch='ESRGAN',
    tiny_config={'num_feat': 8, 'num_block': 1, 'num_grow_ch': 32}, official_config={'scale': 4})
class RRDBNet(nn.Module):
    """ESRGAN generator: RRDB trunk, then two nearest-neighbour x2 + conv stages. Keys and arguments as BasicSR.

    The body always upsamples x4. Scales 2 and 1 first fold the input into channels with pixel-unshuffle (factor 2
    or 4, so conv_first sees ``num_in_ch * 4`` or ``* 16`` channels), as BasicSR and Real-ESRGAN do; an input whose
    size is not a multiple of that factor is padded by reflection and the output cropped back.

    Args:
        num_in_ch / num_out_ch: image channels. scale: 1, 2 or 4.
        num_feat: trunk channels. num_block: RRDBs. num_grow_ch: growth channels of the dense blocks.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, scale: int = 4, num_feat: int = 64,
                 num_block: int = 23, num_grow_ch: int = 32) -> None:
        super().__init__()
        if scale not in (1, 2, 4):
            raise ValueError(f'RRDBNet supports scale 1, 2 and 4, got {scale}.')
        self.scale = scale
        self.unshuffle = 4 // scale
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = make_layer(RRDB, num_block, num_feat=num_feat, num_grow_ch=num_grow_ch)
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        feat = self._unshuffle(x)
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode='nearest')))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode='nearest')))
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))
        return out[..., :height * self.scale, :width * self.scale]

    def _unshuffle(self, x: torch.Tensor) -> torch.Tensor:
        factor = self.unshuffle
        if factor == 1:
            return x
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % factor, -width % factor
        if pad_h or pad_w:
            mode = 'reflect' if pad_h < height and pad_w < width else 'replicate'
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        return pixel_unshuffle(x, factor)

    def convert_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Accept the ESRGAN repository's 2018 (``model.N``) and 2019 (``RRDB_trunk``) layouts as well."""
        layout = detect_layout(state, 'RRDBNet')
        return state if layout in (None, BASICSR) else rename_keys(state, 'RRDBNet', layout, BASICSR)
