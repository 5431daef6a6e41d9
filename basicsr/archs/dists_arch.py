"""DISTS (Ding, Ma, Wang and Simoncelli, "Image Quality Assessment: Unifying Structure and Texture Similarity",
TPAMI 2020): a full-reference distance that tolerates texture resampling.

The trunk is VGG16 with every max pooling replaced by L2 pooling, read at the input itself and at relu1_2, relu2_2,
relu3_3, relu4_3 and relu5_3 (1475 channels in all; the input, not the ImageNet-normalised image, is the first
"feature"). For every channel, with global means ``mu``, variances ``s^2`` and covariance ``s_xy`` over the pixels:
texture ``(2 mu_x mu_y + c) / (mu_x^2 + mu_y^2 + c)`` and structure ``(2 s_xy + c) / (s_x^2 + s_y^2 + c)``,
``c = 1e-6``; DISTS = 1 - sum over channels of ``alpha * texture + beta * structure``, the learned weights normalised
to sum to 1. Weights: the trunk is torchvision's VGG16 ImageNet file, ``alpha``/``beta`` the release's
``weights.pt`` (keys ``alpha``, ``beta``, each (1, 1475, 1, 1)), as ``DISTS_pytorch`` and ``torchmetrics`` ship it.
"""
from pathlib import Path

import torch
from torch import nn

from basicsr.archs.lpips_arch import ImageNetTrunk, find_trunk_weights
from basicsr.archs.pretrained_files import basicsr_caches, find_weights, fixed_seed, package_file
from basicsr.archs.vgg_arch import IMAGENET_MEAN, IMAGENET_STD
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.errors import CheckpointError, OptionError
from basicsr.utils.logger import get_root_logger

CHANNELS = (3, 64, 128, 256, 512, 512)  # the input and the five VGG16 stages
_C = 1e-6
ALPHA_BETA_FILE = 'dists_weights.pt'


def find_dists_alpha_beta(alpha_beta_path: str | None) -> Path:
    """DISTS's alpha/beta file: ``alpha_beta_path``, else basicsr's caches, the ``DISTS_pytorch`` package, the
    ``torchmetrics`` package."""
    places = [*basicsr_caches(ALPHA_BETA_FILE), *package_file('DISTS_pytorch', 'weights.pt'),
              *package_file('torchmetrics', 'functional', 'image', 'dists_models', 'weights.pt')]
    return find_weights('DISTS alpha/beta weights', alpha_beta_path, 'alpha_beta_path', places,
                        'pip install torchmetrics (or DISTS_pytorch; both ship them, as does `pip install '
                        "basicsr[metrics]`), or copy the DISTS release's DISTS_pytorch/weights.pt to "
                        f'{basicsr_caches(ALPHA_BETA_FILE)[0][0]}')


def dists_weight_files(pretrained: bool = True, backbone_path: str | None = None,
                       alpha_beta_path: str | None = None) -> tuple[Path | None, Path | None]:
    """The trunk and alpha/beta files a DISTS network of these options reads (None: random trunk / uniform
    weights). Raises the CheckpointError of a missing one."""
    if not pretrained and backbone_path:
        raise OptionError('backbone_path is set but pretrained is false (a random trunk): drop one of them.',
                          key_path='backbone_path')
    trunk = find_trunk_weights('vgg', backbone_path, 'DISTS') if pretrained else None
    alpha_beta = find_dists_alpha_beta(alpha_beta_path) if pretrained or alpha_beta_path else None
    return trunk, alpha_beta


class DISTSNet(nn.Module):
    """DISTS of NCHW RGB images in [0, 1]: ``net(x, y)`` has shape (N,); 0 for identical images, lower is better.

    Args:
        pretrained: ImageNet VGG16 and the learned alpha/beta (the published metric). False: a random trunk, the
            same in every process, and uniform alpha/beta unless ``alpha_beta_path`` is given; a warning says
            its values are not comparable with published DISTS.
        backbone_path, alpha_beta_path: explicit weight files (see :func:`dists_weight_files`).
    The network is frozen and stays in eval mode.
    """

    def __init__(self, pretrained: bool = True, backbone_path: str | None = None,
                 alpha_beta_path: str | None = None) -> None:
        super().__init__()
        trunk_file, alpha_beta_file = dists_weight_files(pretrained, backbone_path, alpha_beta_path)
        self.pretrained = pretrained
        with fixed_seed():
            self.trunk = ImageNetTrunk('vgg', l2_pooling=True)
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('alpha', torch.ones(1, sum(CHANNELS), 1, 1))
        self.register_buffer('beta', torch.ones(1, sum(CHANNELS), 1, 1))
        logger = get_root_logger()
        if trunk_file is not None:
            self.trunk.load_torchvision_weights(trunk_file)
        else:
            logger.warning('DISTS: random VGG16 weights (pretrained: false); its values are for demos and tests '
                           'only, not comparable with published DISTS.')
        if alpha_beta_file is not None:
            self.load_alpha_beta(alpha_beta_file)
        logger.info(f'DISTS: trunk {trunk_file or "random"}, alpha/beta {alpha_beta_file or "uniform"}.')
        self.requires_grad_(False)
        self.train(False)

    def load_alpha_beta(self, path: Path) -> None:
        state = load_checkpoint(path)
        for key in ('alpha', 'beta'):
            value = state.get(key) if isinstance(state, dict) else None
            if value is None or tuple(value.shape) != tuple(self.alpha.shape):
                found = 'missing' if value is None else f'of shape {tuple(value.shape)}'
                raise CheckpointError(f'{path}: not DISTS weights: {key} should be a {tuple(self.alpha.shape)} '
                                      f'tensor, it is {found}.')
            getattr(self, key).copy_(value)

    def train(self, mode: bool = True) -> 'DISTSNet':
        """Always in eval mode: the network is a fixed measure, also inside a model being trained."""
        return super().train(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input and the five stage outputs of [0, 1] images."""
        return [x, *self.trunk((x - self.mean) / self.std)]

    def distance(self, features: list[torch.Tensor], features2: list[torch.Tensor]) -> torch.Tensor:
        """DISTS, shape (N,), from the :meth:`features` of two image batches."""
        total = self.alpha.sum() + self.beta.sum()
        alphas = torch.split(self.alpha / total, CHANNELS, dim=1)
        betas = torch.split(self.beta / total, CHANNELS, dim=1)
        similarity = 0
        for x, y, alpha, beta in zip(features, features2, alphas, betas):
            mu_x, mu_y = x.mean(dim=(2, 3), keepdim=True), y.mean(dim=(2, 3), keepdim=True)
            texture = (2 * mu_x * mu_y + _C) / (mu_x**2 + mu_y**2 + _C)
            var_x = ((x - mu_x)**2).mean(dim=(2, 3), keepdim=True)
            var_y = ((y - mu_y)**2).mean(dim=(2, 3), keepdim=True)
            cov = (x * y).mean(dim=(2, 3), keepdim=True) - mu_x * mu_y
            structure = (2 * cov + _C) / (var_x + var_y + _C)
            similarity = similarity + (alpha * texture + beta * structure).sum(dim=1)
        return 1 - similarity.view(-1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.distance(self.features(x), self.features(y))
