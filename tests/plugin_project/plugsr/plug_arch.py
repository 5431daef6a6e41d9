from torch import nn

from basicsr.archs.arch_util import default_init_weights, make_layer, ResidualBlockNoBN, Upsample
from basicsr.utils.registry import ARCH_REGISTRY

__all__ = ['PlugNet']


@ARCH_REGISTRY.register()
class PlugNet(nn.Module):
    """A tiny EDSR-like network built from BasicSR's arch_util blocks."""

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, upscale=4):
        super().__init__()
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = make_layer(ResidualBlockNoBN, num_block, num_feat=num_feat)
        self.upsample = Upsample(upscale, num_feat)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        default_init_weights([self.conv_first, self.conv_last], 0.1)

    def forward(self, x):
        feat = self.conv_first(x)
        return self.conv_last(self.upsample(self.body(feat) + feat))
