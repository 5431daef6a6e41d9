"""The Inception-v3 of FID (Heusel et al. 2017): TensorFlow's 2015-12-05 Inception graph, as pytorch-fid ports it.

The layout and key names are torchvision's ``Inception3`` (without the auxiliary classifier; the 1008-class ``fc``
of the file is not used), with the TensorFlow graph's differences: the average poolings of the A, C and E blocks
leave the zero padding out of their means, and the last E block max-pools its pooling branch. Features are the
2048 values of the final average pooling ("pool3") of the image resized to 299x299 (bilinear, no antialiasing)
and mapped from [0, 1] to [-1, 1], as pytorch-fid computes them.

Weights: ``pt_inception-2015-12-05-6726825d.pth``, the file every FID paper's number comes from, read from the
``inception_weights_path`` option or the torch hub cache (where pytorch-fid keeps its download); never downloaded.
"""
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.pretrained_files import find_weights, fixed_seed, hub_checkpoint
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.errors import CheckpointError, OptionError
from basicsr.utils.logger import get_root_logger

FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth'
FID_WEIGHTS_URL = f'https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_FILE}'
FEATURE_DIM = 2048
INPUT_SIZE = 299
_CLASSES = 1008  # the TensorFlow graph's classifier, which tells its file apart from torchvision's (1000)


def find_inception_weights(inception_weights_path: str | None) -> Path:
    """The FID Inception file: ``inception_weights_path``, else the torch hub cache."""
    return find_weights('FID Inception weights', inception_weights_path, 'inception_weights_path',
                        [hub_checkpoint(FID_WEIGHTS_FILE)],
                        f'download {FID_WEIGHTS_URL} once (pytorch-fid does so into the torch hub cache) and put '
                        'it in the torch hub cache, or set pretrained: false for a random network (demos and '
                        'tests only)')


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 mean over the pixels inside the image (TensorFlow's SAME average pooling)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool(x)),
        ], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, kernel_size=3, stride=2),
        ], 1)


class InceptionC(nn.Module):
    """Factorised 7x7 convolutions."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = x
        for k in range(1, 6):
            double = getattr(self, f'branch7x7dbl_{k}')(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(_avg_pool(x)),
        ], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = x
        for k in range(1, 5):
            seven = getattr(self, f'branch7x7x3_{k}')(seven)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), seven, F.max_pool2d(x, kernel_size=3, stride=2)],
                         1)


class InceptionE(nn.Module):
    """Expanded filter bank; ``max_pool`` for the graph's last block (the others average)."""

    def __init__(self, in_channels: int, max_pool: bool = False) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], 1)


class FIDInceptionV3(nn.Module):
    """Pool3 features, shape (N, 2048), of NCHW RGB images in [0, 1] of any size.

    Args:
        pretrained: load the FID Inception file (see :func:`find_inception_weights`). False: random weights, the
            same in every process; a warning says the values are not comparable with published FIDs.
        inception_weights_path: an explicit ``pt_inception-2015-12-05-6726825d.pth``.
    The network is frozen and stays in eval mode.
    """

    def __init__(self, pretrained: bool = True, inception_weights_path: str | None = None) -> None:
        super().__init__()
        if not pretrained and inception_weights_path:
            raise OptionError('inception_weights_path is set but pretrained is false (a random network): drop one '
                              'of them.', key_path='inception_weights_path')
        path = find_inception_weights(inception_weights_path) if pretrained else None
        self.pretrained = pretrained
        with fixed_seed():
            self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
            self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
            self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
            self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
            self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
            self.Mixed_5b = InceptionA(192, pool_features=32)
            self.Mixed_5c = InceptionA(256, pool_features=64)
            self.Mixed_5d = InceptionA(288, pool_features=64)
            self.Mixed_6a = InceptionB(288)
            self.Mixed_6b = InceptionC(768, channels_7x7=128)
            self.Mixed_6c = InceptionC(768, channels_7x7=160)
            self.Mixed_6d = InceptionC(768, channels_7x7=160)
            self.Mixed_6e = InceptionC(768, channels_7x7=192)
            self.Mixed_7a = InceptionD(768)
            self.Mixed_7b = InceptionE(1280)
            self.Mixed_7c = InceptionE(2048, max_pool=True)
            for module in self.modules():
                if isinstance(module, nn.Conv2d):  # keeps the scale of random activations through the depth
                    nn.init.kaiming_normal_(module.weight, mode='fan_in', nonlinearity='relu')
        if path is not None:
            self.load_fid_weights(path)
            get_root_logger().info(f'FID Inception weights loaded from {path}.')
        else:
            get_root_logger().warning('FID: random Inception weights (pretrained: false); its values are for demos '
                                      'and tests only, not comparable with published FIDs.')
        self.requires_grad_(False)
        self.train(False)

    def load_fid_weights(self, path: Path) -> None:
        """Load pytorch-fid's file; its ``fc`` must be the 1008-class one (torchvision's Inception is another
        network, whose FIDs differ)."""
        state = load_checkpoint(path)
        if not isinstance(state, dict):
            raise CheckpointError(f'{path}: not a state dict of the FID Inception.')
        fc = state.get('fc.weight')
        if fc is None or tuple(fc.shape) != (_CLASSES, FEATURE_DIM):
            found = 'no fc.weight' if fc is None else f'fc.weight of shape {tuple(fc.shape)}'
            raise CheckpointError(f"{path}: not {FID_WEIGHTS_FILE} (expected a {_CLASSES}-class fc.weight, found "
                                  f"{found}); torchvision's ImageNet Inception gives other FIDs.")
        own = self.state_dict()
        missing = [k for k in own if k not in state and not k.endswith('num_batches_tracked')]
        unexpected = [k for k in state if k not in own and not k.startswith('fc.')]
        if missing or unexpected:
            raise CheckpointError(f'{path}: not the FID Inception layout; missing {missing[:4]}, unexpected '
                                  f'{unexpected[:4]}.')
        try:
            self.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
        except RuntimeError as err:
            raise CheckpointError(f'{path}: does not fit the FID Inception: {err}') from None

    def train(self, mode: bool = True) -> 'FIDInceptionV3':
        """Always in eval mode (batch norm uses the file's statistics)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode='bilinear', align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ('Mixed_5b', 'Mixed_5c', 'Mixed_5d', 'Mixed_6a', 'Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e',
                     'Mixed_7a', 'Mixed_7b', 'Mixed_7c'):
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3))
