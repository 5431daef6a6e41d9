# The plug-in's own discriminators, under the names of basicsr's built-ins. CALLS counts forward passes, so a test
# can tell which class trained.
from collections import Counter

from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY

CALLS = Counter()


@ARCH_REGISTRY.register()
class UNetDiscriminatorSN(nn.Module):
    """A per-pixel discriminator (two convolutions), standing in for a repository's own U-Net."""

    def __init__(self, num_in_ch=3, num_feat=64, skip_connection=True):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(num_feat, 1, 3, 1, 1))

    def forward(self, x):
        CALLS['UNetDiscriminatorSN'] += 1
        return self.body(x)


@ARCH_REGISTRY.register()
class VGGStyleDiscriminator(nn.Module):
    """One logit per image, for any input size."""

    def __init__(self, num_in_ch=3, num_feat=64, input_size=128):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(num_in_ch, num_feat, 3, 2, 1), nn.LeakyReLU(0.2),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(num_feat, 1))

    def forward(self, x):
        CALLS['VGGStyleDiscriminator'] += 1
        return self.body(x)
