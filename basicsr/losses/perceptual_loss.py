"""Perceptual (VGG feature) and style (Gram matrix) losses."""
from typing import Any, Callable, Literal

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.vgg_arch import VGGFeatureExtractor, VGGType, find_vgg_weights
from basicsr.utils.registry import LOSS_REGISTRY

Criterion = Literal['l1', 'l2', 'fro']

_CRITERIA: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    'l1': F.l1_loss,
    'l2': F.mse_loss,
    'fro': lambda x, y: torch.linalg.vector_norm(x - y),  # Frobenius norm of the whole difference
}


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``F F^T / (c h w)`` per image, for (n, c, h, w) features: (n, c, c)."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat.bmm(flat.transpose(1, 2)) / (c * h * w)


@LOSS_REGISTRY.register(tiny_config={'layer_weights': {'conv1_1': 1.0}, 'vgg_type': 'vgg11',
                                      'pretrained': False, 'style_weight': 1.0})
class PerceptualLoss(nn.Module):
    """``perceptual_weight * sum_k w_k crit(phi_k(x), phi_k(gt))`` over VGG layers ``k``, plus the same over Gram
    matrices times ``style_weight``. Returns ``(perceptual, style)``; a term whose weight is 0 is None.

    Args:
        layer_weights: ``{layer name: weight}``, e.g. ``{conv5_4: 1}`` (before the ReLU, ESRGAN) or
            ``{relu5_4: 1}`` (after it, SRGAN). Names as in :class:`~basicsr.archs.vgg_arch.VGGFeatureExtractor`.
        vgg_type, use_input_norm, range_norm, pretrained, vgg_weights_path: passed to the feature extractor.
        criterion: ``l1``, ``l2`` (mean squared) or ``fro`` (Frobenius norm of the difference).
    """

    def __init__(self, layer_weights: dict[str, float], vgg_type: VGGType = 'vgg19', use_input_norm: bool = True,
                 range_norm: bool = False, perceptual_weight: float = 1.0, style_weight: float = 0.0,
                 criterion: Criterion = 'l1', pretrained: bool = True, vgg_weights_path: str | None = None) -> None:
        super().__init__()
        if criterion not in _CRITERIA:
            raise ValueError(f"criterion must be one of {', '.join(_CRITERIA)}, got '{criterion}'.")
        self.layer_weights = dict(layer_weights)
        self.perceptual_weight = perceptual_weight
        self.style_weight = style_weight
        self.criterion = _CRITERIA[criterion]
        self.vgg = VGGFeatureExtractor(list(self.layer_weights), vgg_type, use_input_norm, range_norm,
                                       pretrained=pretrained, vgg_weights_path=vgg_weights_path)

    @staticmethod
    def check_files(vgg_type: str = 'vgg19', pretrained: bool = True, vgg_weights_path: str | None = None,
                    **_: Any) -> None:
        """Raise the CheckpointError of a missing VGG weights file (called before training starts)."""
        if pretrained:
            find_vgg_weights(vgg_type, vgg_weights_path)

    def forward(self, x: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        x_features = self.vgg(x)
        with torch.no_grad():
            gt_features = self.vgg(gt)
        percep = style = None
        if self.perceptual_weight > 0:
            percep = self.perceptual_weight * sum(
                weight * self.criterion(x_features[name], gt_features[name])
                for name, weight in self.layer_weights.items())
        if self.style_weight > 0:
            style = self.style_weight * sum(
                weight * self.criterion(gram_matrix(x_features[name]), gram_matrix(gt_features[name]))
                for name, weight in self.layer_weights.items())
        return percep, style
