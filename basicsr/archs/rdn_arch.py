"""RDN (Zhang et al. 2018), with the key names of the PyTorch RDN in EDSR-PyTorch (``SFENet1``, ``RDBs``, ``GFF``,
``UPNet``), the implementation the RDN authors link to; its files load unchanged."""
import torch
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY


class DenseLayer(nn.Module):
    """3x3 conv + ReLU whose output is appended to its input (key ``conv.0``; EDSR-PyTorch's ``RDB_Conv``)."""

    def __init__(self, in_ch: int, num_grow_ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_ch, num_grow_ch, 3, 1, 1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, self.conv(x)), 1)


class RDB(nn.Module):
    """Residual dense block: ``num_layer`` dense layers, local feature fusion (1x1 ``LFF``) and a skip."""

    def __init__(self, num_feat: int, num_grow_ch: int, num_layer: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(*(DenseLayer(num_feat + i * num_grow_ch, num_grow_ch) for i in range(num_layer)))
        self.LFF = nn.Conv2d(num_feat + num_layer * num_grow_ch, num_feat, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.LFF(self.convs(x))


def _upsampler(num_feat: int, num_grow_ch: int, num_out_ch: int, upscale: int) -> nn.Sequential:
    """EDSR-PyTorch's ``UPNet``: conv + pixel shuffle once (x2, x3) or twice (x4), then a conv to the image."""
    if upscale == 4:
        return nn.Sequential(nn.Conv2d(num_feat, num_grow_ch * 4, 3, 1, 1), nn.PixelShuffle(2),
                             nn.Conv2d(num_grow_ch, num_grow_ch * 4, 3, 1, 1), nn.PixelShuffle(2),
                             nn.Conv2d(num_grow_ch, num_out_ch, 3, 1, 1))
    return nn.Sequential(nn.Conv2d(num_feat, num_grow_ch * upscale**2, 3, 1, 1), nn.PixelShuffle(upscale),
                         nn.Conv2d(num_grow_ch, num_out_ch, 3, 1, 1))


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 8, 'num_block': 1, 'num_layer': 2, 'num_grow_ch': 8}, official_config={'upscale': 4})
class RDN(nn.Module):
    """Residual Dense Network: shallow features, ``num_block`` RDBs, global fusion of all their outputs (``GFF``)
    with a skip to the first features, then the upsampler. Defaults are the paper's (D=16, C=8, G=G0=64).

    Args:
        num_in_ch / num_out_ch: image channels.
        num_feat: G0, feature channels. num_block: D, RDBs. num_layer: C, dense layers per RDB.
        num_grow_ch: G, growth channels (also the upsampler's width). upscale: 2, 3 or 4.
        img_range: the convolutions work on ``x * img_range``; EDSR-PyTorch's weights expect 255 (no mean shift).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16,
                 num_layer: int = 8, num_grow_ch: int = 64, upscale: int = 4, img_range: float = 255.0) -> None:
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError(f'RDN supports upscale 2, 3 and 4, got {upscale}.')
        self.img_range = img_range
        self.SFENet1 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.SFENet2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.RDBs = nn.ModuleList(RDB(num_feat, num_grow_ch, num_layer) for _ in range(num_block))
        self.GFF = nn.Sequential(nn.Conv2d(num_block * num_feat, num_feat, 1), nn.Conv2d(num_feat, num_feat, 3, 1, 1))
        self.UPNet = _upsampler(num_feat, num_grow_ch, num_out_ch, upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shallow = self.SFENet1(x * self.img_range)
        feat = self.SFENet2(shallow)
        block_outputs = []
        for block in self.RDBs:
            feat = block(feat)
            block_outputs.append(feat)
        feat = self.GFF(torch.cat(block_outputs, 1)) + shallow
        return self.UPNet(feat) / self.img_range
