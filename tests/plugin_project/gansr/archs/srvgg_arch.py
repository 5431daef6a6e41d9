# The plug-in's own compact generator, under the name of basicsr's built-in.
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY

from gansr.archs.discriminator_arch import CALLS


@ARCH_REGISTRY.register()
class SRVGGNetCompact(nn.Module):
    """Convolutions then a pixel shuffle, standing in for a repository's own compact network."""

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type='prelu'):
        super().__init__()
        layers = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        layers += [nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1), nn.PixelShuffle(upscale)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        CALLS['SRVGGNetCompact'] += 1
        return self.body(x)
