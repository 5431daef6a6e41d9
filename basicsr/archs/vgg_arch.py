"""VGG feature extractor for perceptual losses, with torchvision's ImageNet weights read from local files only.

Layers are named as in BasicSR (``conv1_1, relu1_1, ..., conv5_4, relu5_4, pool5``; ``bnX_Y`` after each conv in
the ``*_bn`` types), one name per module of torchvision's ``vgg*.features``. ``convX_Y`` is the feature *before*
its ReLU (ESRGAN's choice), ``reluX_Y`` the feature after it (SRGAN's).
"""
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.errors import CheckpointError, OptionError
from basicsr.utils.known_files import download_hint
from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import ARCH_REGISTRY

VGGType = Literal['vgg11', 'vgg11_bn', 'vgg13', 'vgg13_bn', 'vgg16', 'vgg16_bn', 'vgg19', 'vgg19_bn']

# Convolutions per block for each depth (torchvision's configurations A, B, D, E) and channels per block.
_CONVS_PER_BLOCK = {'vgg11': (1, 1, 2, 2, 2), 'vgg13': (2, 2, 2, 2, 2), 'vgg16': (2, 2, 3, 3, 3),
                    'vgg19': (2, 2, 4, 4, 4)}
_BLOCK_CHANNELS = (64, 128, 256, 512, 512)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg_layer_names(vgg_type: str) -> list[str]:
    """The names of ``torchvision.models.<vgg_type>().features``, index for index."""
    depth = vgg_type.removesuffix('_bn')
    if depth not in _CONVS_PER_BLOCK:
        raise OptionError(f"vgg_type: unknown VGG '{vgg_type}'; use one of {', '.join(VGGType.__args__)}.",
                          key_path='vgg_type')
    with_bn = vgg_type.endswith('_bn')
    names = []
    for block, convs in enumerate(_CONVS_PER_BLOCK[depth], 1):
        for index in range(1, convs + 1):
            names += [f'conv{block}_{index}', *([f'bn{block}_{index}'] if with_bn else []), f'relu{block}_{index}']
        names.append(f'pool{block}')
    return names


NAMES = {vgg_type: vgg_layer_names(vgg_type) for vgg_type in _CONVS_PER_BLOCK}  # BasicSR 1.4.2's table


def torchvision_weights_file(vgg_type: str) -> str:
    """The file name torchvision gives the ImageNet weights of ``vgg_type`` (e.g. ``vgg19-dcbb9e9d.pth``)."""
    from torchvision.models import get_model_weights
    return os.path.basename(get_model_weights(vgg_type).IMAGENET1K_V1.url)


def find_vgg_weights(vgg_type: str, vgg_weights_path: str | None) -> Path:
    """The weights file to load: ``vgg_weights_path`` when given, else torchvision's file in the torch hub cache.

    Nothing is downloaded. A missing file is a CheckpointError naming the path searched and how to provide it.
    """
    file_name = torchvision_weights_file(vgg_type)
    path = (Path(vgg_weights_path).expanduser() if vgg_weights_path
            else Path(torch.hub.get_dir()) / 'checkpoints' / file_name)
    if path.is_file():
        return path
    raise CheckpointError(
        f'ImageNet weights of {vgg_type} (VGGFeatureExtractor) not found: searched {path}. Training downloads nothing; '
        f"put torchvision's {file_name} in the torch hub cache ($TORCH_HOME/hub/checkpoints, by default "
        '~/.cache/torch/hub/checkpoints) or set vgg_weights_path (e.g. in train.perceptual_opt) to the file, '
        f'or set pretrained: false to use randomly initialised VGG features (tests, demos).{download_hint(path)}')


@ARCH_REGISTRY.register(
    kind='feature', source='basicsr', licence='Apache-2.0')
class VGGFeatureExtractor(nn.Module):
    """Features of the named VGG layers; only the layers up to the deepest requested one are built and run.

    Args:
        layer_name_list: layers whose outputs ``forward`` returns, e.g. ``['conv5_4']``.
        vgg_type: ``vgg11`` ... ``vgg19``, optionally ``_bn``.
        use_input_norm: normalise the [0, 1] RGB input with the ImageNet mean and std.
        range_norm: map [-1, 1] input to [0, 1] first.
        requires_grad: train the VGG too; by default it is frozen and kept in eval mode.
        pretrained: load torchvision's ImageNet weights (see :func:`find_vgg_weights`); false gives random ones.
        vgg_weights_path: an explicit weights file in torchvision's layout (``features.<index>.weight``).
    """

    def __init__(self, layer_name_list: list[str], vgg_type: VGGType = 'vgg19', use_input_norm: bool = True,
                 range_norm: bool = False, requires_grad: bool = False, pretrained: bool = True,
                 vgg_weights_path: str | None = None) -> None:
        super().__init__()
        all_names = vgg_layer_names(vgg_type)
        unknown = [name for name in layer_name_list if name not in all_names]
        if unknown or not layer_name_list:
            raise OptionError(f'layer names {unknown or layer_name_list} are not layers of {vgg_type}; '
                              f"choose from {', '.join(all_names)}.", key_path='layer_weights')
        self.layer_name_list = list(layer_name_list)
        self.use_input_norm = use_input_norm
        self.range_norm = range_norm
        self.requires_grad = requires_grad
        names = all_names[:max(all_names.index(name) for name in layer_name_list) + 1]
        self.vgg_net = nn.Sequential(OrderedDict((name, _make_layer(name)) for name in names))
        if pretrained:
            self._load_torchvision_weights(find_vgg_weights(vgg_type, vgg_weights_path))
        else:
            get_root_logger().warning(f'VGGFeatureExtractor: {vgg_type} has random weights (pretrained: false), '
                                      'so its features are not ImageNet features.')
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        for param in self.vgg_net.parameters():
            param.requires_grad_(requires_grad)
        self.train(False)

    def _load_torchvision_weights(self, path: Path) -> None:
        state = load_checkpoint(path)
        converted = OrderedDict()
        for index, (name, layer) in enumerate(self.vgg_net.named_children()):
            for key in layer.state_dict():
                source = f'features.{index}.{key}'
                if source not in state:
                    raise CheckpointError(f"{path}: '{source}' missing: not torchvision's VGG layout for "
                                          f'{name} ({layer}).')
                converted[f'{name}.{key}'] = state[source]
        try:
            self.vgg_net.load_state_dict(converted)
        except RuntimeError as err:
            raise CheckpointError(f'{path}: does not fit the VGG layers: {err}') from None
        get_root_logger().info(f'VGGFeatureExtractor: ImageNet weights loaded from {path}.')

    def train(self, mode: bool = True) -> 'VGGFeatureExtractor':
        """A frozen VGG stays in eval mode (BatchNorm statistics of the ``_bn`` types must not change)."""
        super().train(mode and self.requires_grad)
        return self

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        features = {}
        for name, layer in self.vgg_net.named_children():
            x = layer(x)  # ReLUs are not in-place, so a stored conv output keeps its pre-activation values
            if name in self.layer_name_list:
                features[name] = x
        return features


def _make_layer(name: str) -> nn.Module:
    """The layer called ``name`` (``conv3_2``, ``bn3_2``, ``relu3_2``, ``pool3``), initialised as torchvision does."""
    kind, block, index = re.fullmatch(r'([a-z]+)(\d)(?:_(\d))?', name).groups()
    channels = _BLOCK_CHANNELS[int(block) - 1]
    if kind == 'pool':
        return nn.MaxPool2d(kernel_size=2, stride=2)
    if kind == 'relu':
        return nn.ReLU(inplace=False)
    if kind == 'bn':
        return nn.BatchNorm2d(channels)
    in_channels = channels if index != '1' else 3 if block == '1' else _BLOCK_CHANNELS[int(block) - 2]
    conv = nn.Conv2d(in_channels, channels, kernel_size=3, padding=1)
    nn.init.kaiming_normal_(conv.weight, mode='fan_out', nonlinearity='relu')
    nn.init.zeros_(conv.bias)
    return conv
