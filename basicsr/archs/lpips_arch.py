"""LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018), v0.1,
and the ImageNet trunks (AlexNet, VGG16) that LPIPS and DISTS read features from.

LPIPS of two images: both are mapped from [0, 1] to [-1, 1] and through LPIPS's scaling layer (a fixed per-channel
shift and scale), then through the trunk; at each of five ReLU outputs the feature vector of every pixel is divided
by its L2 norm, the squared difference of the two images' unit features is weighted per channel by a learned
non-negative 1x1 linear head, and averaged over the pixels; the five layer values are summed.

Weights are files, never downloads (see :mod:`basicsr.archs.pretrained_files`): the trunk is torchvision's ImageNet
file (``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth``), the heads are the LPIPS release's ``weights/v0.1/
{alex,vgg}.pth`` (keys ``lin0.model.1.weight`` ... ``lin4.model.1.weight``), as the ``lpips`` and ``torchmetrics``
packages ship them. ``pretrained=False`` builds a random trunk (always the same one) for demos and tests.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.pretrained_files import basicsr_caches, find_weights, fixed_seed, hub_checkpoint, package_file
from basicsr.archs.vgg_arch import torchvision_weights_file
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.errors import CheckpointError, OptionError
from basicsr.utils.logger import get_root_logger

TrunkName = Literal['alex', 'vgg']
LPIPS_VERSION = '0.1'
# LPIPS's scaling layer: ImageNet statistics expressed on the [-1, 1] scale
_SHIFT = (-.030, -.088, -.188)
_SCALE = (.458, .448, .450)


@dataclass(frozen=True)
class TrunkSpec:
    """torchvision's ``features`` of a network, as far as perceptual metrics read it."""
    torchvision_name: str
    layers: tuple  # (in, out, kernel, stride, padding) for a convolution, or 'relu' / 'pool'
    pool: tuple[int, int]  # max-pooling kernel and stride
    taps: tuple[int, ...]  # indices of the ReLUs whose outputs are the features
    channels: tuple[int, ...]  # channels of those features
    min_size: int  # smallest input side that reaches the last tap


def _vgg16_layers() -> tuple:
    layers, in_ch = [], 3
    for block, (convs, out_ch) in enumerate(zip((2, 2, 3, 3, 3), (64, 128, 256, 512, 512))):
        if block:
            layers.append('pool')
        for _ in range(convs):
            layers += [(in_ch, out_ch, 3, 1, 1), 'relu']
            in_ch = out_ch
    return tuple(layers)


TRUNKS = {
    'alex': TrunkSpec('alexnet', ((3, 64, 11, 4, 2), 'relu', 'pool', (64, 192, 5, 1, 2), 'relu', 'pool',
                                  (192, 384, 3, 1, 1), 'relu', (384, 256, 3, 1, 1), 'relu', (256, 256, 3, 1, 1),
                                  'relu'), (3, 2), (1, 4, 7, 9, 11), (64, 192, 384, 256, 256), 31),
    'vgg': TrunkSpec('vgg16', _vgg16_layers(), (2, 2), (3, 8, 15, 22, 29), (64, 128, 256, 512, 512), 16),
}


class L2Pooling(nn.Module):
    """DISTS's pooling: the square root of a 3x3 Hann-weighted mean of squares (stride 2), per channel.

    The window is the 5-tap Hann window without its zero ends, [1/2, 1, 1/2], outer product, normalised.
    """

    def __init__(self) -> None:
        super().__init__()
        taps = torch.tensor([0.5, 1.0, 0.5])
        kernel = taps[:, None] * taps[None, :]
        self.register_buffer('kernel', (kernel / kernel.sum()).view(1, 1, 3, 3), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.kernel.to(x.dtype).expand(x.shape[1], 1, 3, 3)
        return (F.conv2d(x * x, kernel, stride=2, padding=1, groups=x.shape[1]) + 1e-12).sqrt()


class ImageNetTrunk(nn.Module):
    """torchvision's AlexNet or VGG16 ``features`` up to the last ReLU that is read, with torchvision's module
    indices (``features.<index>.weight``), so its ImageNet files load as they are. ``forward`` returns the outputs
    of the tapped ReLUs. ``l2_pooling`` replaces max pooling by :class:`L2Pooling` (DISTS)."""

    def __init__(self, trunk: TrunkName, l2_pooling: bool = False) -> None:
        super().__init__()
        if trunk not in TRUNKS:
            raise ValueError(f"net must be one of {', '.join(TRUNKS)}, got '{trunk}'.")
        self.spec = TRUNKS[trunk]
        layers: list[nn.Module] = []
        for item in self.spec.layers:
            if item == 'relu':
                layers.append(nn.ReLU(inplace=True))
            elif item == 'pool':
                layers.append(L2Pooling() if l2_pooling else nn.MaxPool2d(*self.spec.pool))
            else:
                in_ch, out_ch, kernel, stride, padding = item
                conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding)
                nn.init.kaiming_normal_(conv.weight, mode='fan_out', nonlinearity='relu')
                nn.init.zeros_(conv.bias)
                layers.append(conv)
        self.features = nn.Sequential(*layers)
        self.min_size = 1 if l2_pooling else self.spec.min_size  # L2 pooling pads, so no size runs out

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(f'{self.spec.torchvision_name} features need images of at least '
                             f'{self.min_size}x{self.min_size} pixels, got {tuple(x.shape[-2:])}.')
        outputs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.spec.taps:
                outputs.append(x)
        return outputs

    def load_torchvision_weights(self, path: Path) -> None:
        """Load the ``features.*`` tensors of torchvision's ImageNet file (the classifier is ignored)."""
        state = load_checkpoint(path)
        wanted = self.features.state_dict()
        missing = [f'features.{key}' for key in wanted if f'features.{key}' not in state]
        if missing:
            raise CheckpointError(f"{path}: not torchvision's {self.spec.torchvision_name} layout, missing "
                                  f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}.")
        try:
            self.features.load_state_dict({key: state[f'features.{key}'] for key in wanted})
        except RuntimeError as err:
            raise CheckpointError(f'{path}: does not fit {self.spec.torchvision_name}: {err}') from None


def find_trunk_weights(trunk: TrunkName, backbone_path: str | None, user: str) -> Path:
    """torchvision's ImageNet file of ``trunk``: ``backbone_path``, else the torch hub cache (where torchvision
    keeps it). ``user`` names the metric or loss in the error."""
    name = TRUNKS[trunk].torchvision_name
    file_name = torchvision_weights_file(name)
    return find_weights(f'ImageNet weights of {name} ({user})', backbone_path, 'backbone_path',
                        [hub_checkpoint(file_name)],
                        f"put torchvision's {file_name} in the torch hub cache, or set pretrained: false for a "
                        'random trunk (demos and tests only)')


def find_lpips_heads(net: TrunkName, heads_path: str | None) -> Path:
    """The LPIPS v0.1 linear heads of ``net``: ``heads_path``, else basicsr's caches, the ``lpips`` package, the
    ``torchmetrics`` package."""
    file_name = f'{net}.pth'
    places = [*basicsr_caches(f'lpips_v{LPIPS_VERSION}_{file_name}'),
              *package_file('lpips', 'weights', f'v{LPIPS_VERSION}', file_name),
              *package_file('torchmetrics', 'functional', 'image', 'lpips_models', file_name)]
    return find_weights(f'LPIPS v{LPIPS_VERSION} linear heads of {net}', heads_path, 'heads_path', places,
                        "pip install lpips (or torchmetrics; both ship them, as does `pip install basicsr[metrics]`), "
                        f'or copy the LPIPS release\'s weights/v{LPIPS_VERSION}/{file_name} to '
                        f'{basicsr_caches("")[0][0]}/lpips_v{LPIPS_VERSION}_{file_name}')


def lpips_weight_files(net: TrunkName = 'alex', pretrained: bool = True, backbone_path: str | None = None,
                       heads_path: str | None = None) -> tuple[Path | None, Path | None]:
    """The trunk and head files an LPIPS network of these options reads (None: random trunk / uniform heads).

    Raises the CheckpointError of a missing one, so callers can check before any work.
    """
    if net not in TRUNKS:
        raise ValueError(f"LPIPS net must be one of {', '.join(TRUNKS)}, got '{net}'.")
    if not pretrained and backbone_path:
        raise OptionError('backbone_path is set but pretrained is false (a random trunk): drop one of them.',
                          key_path='backbone_path')
    trunk = find_trunk_weights(net, backbone_path, f'LPIPS-{net}') if pretrained else None
    heads = find_lpips_heads(net, heads_path) if pretrained or heads_path else None
    return trunk, heads


class _LinearHead(nn.Module):
    """A 1x1 convolution to one channel, without bias, under the LPIPS release's key ``model.1.weight`` (its
    index 0 is a dropout used when the heads were fitted; an identity here)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPSNet(nn.Module):
    """LPIPS v0.1 of NCHW RGB images in [0, 1]: ``net(x, y)`` has shape (N,); lower is more similar.

    Args:
        net: the trunk, ``alex`` (the authors' recommendation for evaluation) or ``vgg``.
        pretrained: ImageNet trunk and learned heads (the published metric). False: a random trunk, the same one
            in every process, and uniform heads (LPIPS's unweighted "baseline") unless ``heads_path`` is given;
            its values are not comparable with published LPIPS, and a warning says so.
        backbone_path, heads_path: explicit weight files (see :func:`lpips_weight_files` for the default places).
    The network is frozen and stays in eval mode.
    """

    def __init__(self, net: TrunkName = 'alex', pretrained: bool = True, backbone_path: str | None = None,
                 heads_path: str | None = None) -> None:
        super().__init__()
        trunk_file, heads_file = lpips_weight_files(net, pretrained, backbone_path, heads_path)
        self.net_name = net
        self.pretrained = pretrained
        with fixed_seed():
            self.trunk = ImageNetTrunk(net)
            self.heads = [f'lin{k}' for k in range(len(self.trunk.spec.channels))]
            for name, channels in zip(self.heads, self.trunk.spec.channels):
                self.add_module(name, _LinearHead(channels))
        self.register_buffer('shift', torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('scale', torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        logger = get_root_logger()
        if trunk_file is not None:
            self.trunk.load_torchvision_weights(trunk_file)
        else:
            logger.warning(f'LPIPS-{net}: random trunk weights (pretrained: false); its values are for demos and '
                           'tests only, not comparable with published LPIPS.')
        if heads_file is not None:
            self.load_heads(heads_file)
        else:
            for name in self.heads:
                nn.init.ones_(getattr(self, name).model[1].weight)
        logger.info(f'LPIPS-{net} v{LPIPS_VERSION}: trunk {trunk_file or "random"}, heads {heads_file or "uniform"}.')
        self.requires_grad_(False)
        self.train(False)

    def load_heads(self, path: Path) -> None:
        """Load the linear heads from an LPIPS release file (``lin<k>.model.1.weight``; other keys are ignored)."""
        state = load_checkpoint(path)
        for name, channels in zip(self.heads, self.trunk.spec.channels):
            key = f'{name}.model.1.weight'
            weight = state.get(key) if isinstance(state, dict) else None
            if weight is None or tuple(weight.shape) != (1, channels, 1, 1):
                found = 'missing' if weight is None else f'of shape {tuple(weight.shape)}'
                raise CheckpointError(f'{path}: not LPIPS heads of {self.net_name}: {key} should be a (1, {channels}, '
                                      f'1, 1) tensor, it is {found}.')
            if (weight < 0).any():
                raise CheckpointError(f'{path}: {key} has negative weights; LPIPS heads are non-negative.')
            getattr(self, name).model[1].weight.data.copy_(weight)

    def train(self, mode: bool = True) -> 'LPIPSNet':
        """Always in eval mode: the network is a fixed measure, also inside a model being trained."""
        return super().train(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Trunk features of [0, 1] images, each unit-normalised along the channels at every pixel."""
        x = (x * 2 - 1 - self.shift) / self.scale
        return [feature / (torch.linalg.vector_norm(feature, dim=1, keepdim=True) + 1e-10)
                for feature in self.trunk(x)]

    def distance(self, features: list[torch.Tensor], features2: list[torch.Tensor]) -> torch.Tensor:
        """LPIPS, shape (N,), from the :meth:`features` of two image batches."""
        total = 0
        for name, feature, feature2 in zip(self.heads, features, features2):
            total = total + getattr(self, name)((feature - feature2)**2).mean(dim=(2, 3))
        return total.view(-1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.distance(self.features(x), self.features(y))
