"""Discriminators for adversarial SR training. Each returns raw logits (no sigmoid): the GAN losses take logits.

* ``VGGStyleDiscriminator``: ESRGAN's / BasicSR's, for 128 or 256 inputs (BasicSR key names).
* ``SRGANDiscriminator``: the SRGAN paper's (Ledig et al. 2017), eight 3x3 convs and two dense layers.
* ``UNetDiscriminatorSN``: Real-ESRGAN's U-Net with spectral normalisation, one logit per pixel.
"""
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

from basicsr.utils.errors import ShapeMismatchError, UnsupportedSizeError
from basicsr.utils.registry import ARCH_REGISTRY


def _check_size(net: nn.Module, x: torch.Tensor, expected: int | None, multiple: int = 1) -> None:
    """Dense heads need a fixed input size, strided encoders a multiple of their stride: say so clearly."""
    h, w = x.shape[-2:]
    if (expected is not None and (h, w) != (expected, expected)) or h % multiple or w % multiple:
        wanted = f'{expected}x{expected}' if expected is not None else f'a multiple of {multiple}'
        raise ShapeMismatchError(f'{net.__class__.__name__} expects inputs of {wanted} pixels, got {h}x{w}; '
                         'match datasets.train.gt_size to the discriminator.')


@ARCH_REGISTRY.register(
    kind='discriminator', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 4, 'input_size': 128}, official_config={'num_feat': 64, 'input_size': 128})
class VGGStyleDiscriminator(nn.Module):
    """VGG-style discriminator: stages of (3x3 conv, 4x4 stride-2 conv), BatchNorm, LeakyReLU(0.2), then
    ``linear1`` (to 100) and ``linear2`` (to 1). Five stages for 128x128 inputs, six for 256x256, down to 4x4.

    Keys follow BasicSR: ``conv0_0``, ``conv0_1``, ``bn0_1``, ``conv1_0``, ``bn1_0``, ... ``linear1``, ``linear2``.
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, input_size: int = 128) -> None:
        super().__init__()
        if input_size not in (128, 256):
            raise UnsupportedSizeError(f'VGGStyleDiscriminator supports input_size 128 or 256, got {input_size}.')
        self.input_size = input_size
        self.num_stages = 5 if input_size == 128 else 6
        channels = [num_feat * min(2**stage, 8) for stage in range(self.num_stages)]
        self.conv0_0 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(num_feat, num_feat, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(num_feat, affine=True)
        for stage in range(1, self.num_stages):
            setattr(self, f'conv{stage}_0', nn.Conv2d(channels[stage - 1], channels[stage], 3, 1, 1, bias=False))
            setattr(self, f'bn{stage}_0', nn.BatchNorm2d(channels[stage], affine=True))
            setattr(self, f'conv{stage}_1', nn.Conv2d(channels[stage], channels[stage], 4, 2, 1, bias=False))
            setattr(self, f'bn{stage}_1', nn.BatchNorm2d(channels[stage], affine=True))
        self.linear1 = nn.Linear(channels[-1] * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(self, x, self.input_size)
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        for stage in range(1, self.num_stages):
            for half in (0, 1):
                conv, bn = getattr(self, f'conv{stage}_{half}'), getattr(self, f'bn{stage}_{half}')
                feat = self.lrelu(bn(conv(feat)))
        feat = self.lrelu(self.linear1(feat.flatten(1)))
        return self.linear2(feat)


@ARCH_REGISTRY.register(
    kind='discriminator', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 4, 'input_size': 96}, official_config={'num_feat': 64, 'input_size': 96})
class SRGANDiscriminator(nn.Module):
    """The SRGAN paper's discriminator: a 3x3 conv and LeakyReLU(0.2), then seven 3x3 conv-BN-LeakyReLU layers
    (channels 64, 128, 128, 256, 256, 512, 512 at ``num_feat`` 64; stride 2 on every other one), then
    ``Linear(-> 1024)``, LeakyReLU, ``Linear(-> 1)``. The paper's final sigmoid is left to the loss.

    Keys: ``features.<index>`` (convs without bias before BatchNorm) and ``classifier.0`` / ``classifier.2``.
    ``input_size`` (96 in the paper) fixes the first dense layer; it must be a multiple of 16.
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, input_size: int = 96) -> None:
        super().__init__()
        if input_size % 16:
            raise ValueError(f'SRGANDiscriminator needs input_size to be a multiple of 16, got {input_size}.')
        self.input_size = input_size
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)]
        in_ch = num_feat
        for index in range(7):
            out_ch = num_feat * 2**((index + 1) // 2)
            stride = 2 if index % 2 == 0 else 1
            layers += [nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False), nn.BatchNorm2d(out_ch),
                       nn.LeakyReLU(0.2, inplace=True)]
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(in_ch * (input_size // 16)**2, 1024),
                                        nn.LeakyReLU(0.2, inplace=True), nn.Linear(1024, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(self, x, self.input_size)
        return self.classifier(self.features(x).flatten(1))


@ARCH_REGISTRY.register(
    kind='discriminator', source='basicsr', licence='Apache-2.0', input_multiple=8,
    tiny_config={'num_feat': 4}, official_config={'num_feat': 64})
class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator with spectral normalisation: three stride-2 encoder convs, a decoder of
    bilinear x2 upsampling + conv with skip connections, and a per-pixel logit map at the input resolution.

    ``conv1``-``conv8`` are spectrally normalised (keys ``convN.weight_orig``, ``weight_u``, ``weight_v``);
    ``conv0`` and ``conv9`` are plain convs with bias. Inputs must have sides divisible by 8.
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        self.skip_connection = skip_connection

        def sn_conv(in_ch: int, out_ch: int, kernel: int, stride: int) -> nn.Module:
            return spectral_norm(nn.Conv2d(in_ch, out_ch, kernel, stride, 1, bias=False))

        self.conv0 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.conv1 = sn_conv(num_feat, num_feat * 2, 4, 2)
        self.conv2 = sn_conv(num_feat * 2, num_feat * 4, 4, 2)
        self.conv3 = sn_conv(num_feat * 4, num_feat * 8, 4, 2)
        self.conv4 = sn_conv(num_feat * 8, num_feat * 4, 3, 1)
        self.conv5 = sn_conv(num_feat * 4, num_feat * 2, 3, 1)
        self.conv6 = sn_conv(num_feat * 2, num_feat, 3, 1)
        self.conv7 = sn_conv(num_feat, num_feat, 3, 1)
        self.conv8 = sn_conv(num_feat, num_feat, 3, 1)
        self.conv9 = nn.Conv2d(num_feat, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(self, x, None, multiple=8)
        x0 = F.leaky_relu(self.conv0(x), 0.2)
        x1 = F.leaky_relu(self.conv1(x0), 0.2)
        x2 = F.leaky_relu(self.conv2(x1), 0.2)
        x3 = F.leaky_relu(self.conv3(x2), 0.2)
        feat = x3
        for conv, skip in ((self.conv4, x2), (self.conv5, x1), (self.conv6, x0)):
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2, mode='bilinear', align_corners=False)), 0.2)
            if self.skip_connection:
                feat = feat + skip
        feat = F.leaky_relu(self.conv7(feat), 0.2)
        feat = F.leaky_relu(self.conv8(feat), 0.2)
        return self.conv9(feat)
