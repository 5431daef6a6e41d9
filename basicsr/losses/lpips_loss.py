"""LPIPS and DISTS as training losses, for ``train.perceptual_opt`` of any GAN recipe (DSGAN's paper trains with
LPIPS-alex, weight 0.01). Like :class:`~basicsr.losses.perceptual_loss.PerceptualLoss` they return a
``(perceptual, style)`` pair, the style term always None; the network is frozen and its features of the GT are
computed without gradients. Inputs are [0, 1] RGB batches (outputs slightly outside the range are not clipped, so
the gradient is exact)."""
from typing import Any

import torch
from torch import nn

from basicsr.archs.dists_arch import DISTSNet, dists_weight_files
from basicsr.archs.lpips_arch import LPIPSNet, TrunkName, lpips_weight_files
from basicsr.utils.registry import LOSS_REGISTRY


class _FeatureDistanceLoss(nn.Module):
    """``loss_weight`` times the batch mean of ``network.distance`` between the output and the GT."""

    network: LPIPSNet | DISTSNet

    def __init__(self, loss_weight: float) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, x: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, None]:
        with torch.no_grad():
            gt_features = self.network.features(gt)
        return self.loss_weight * self.network.distance(self.network.features(x), gt_features).mean(), None


@LOSS_REGISTRY.register(tiny_config={'pretrained': False})
class LPIPSLoss(_FeatureDistanceLoss):
    """LPIPS v0.1 as a loss.

    Args:
        loss_weight: the factor of the loss.
        net: ``alex`` (DSGAN's choice) or ``vgg``.
        pretrained: ImageNet trunk and learned heads; false for a random trunk with uniform heads (demos and tests;
            a warning in the log).
        backbone_path, heads_path: explicit weight files; by default the torch hub cache, basicsr's caches and the
            ``lpips`` / ``torchmetrics`` packages (see :func:`basicsr.archs.lpips_arch.lpips_weight_files`).
    """

    def __init__(self, loss_weight: float = 1.0, net: TrunkName = 'alex', pretrained: bool = True,
                 backbone_path: str | None = None, heads_path: str | None = None) -> None:
        super().__init__(loss_weight)
        self.network = LPIPSNet(net, pretrained, backbone_path, heads_path)

    @staticmethod
    def check_files(net: TrunkName = 'alex', pretrained: bool = True, backbone_path: str | None = None,
                    heads_path: str | None = None, **_: Any) -> None:
        """Raise the CheckpointError of a missing weight file (called before training starts)."""
        lpips_weight_files(net, pretrained, backbone_path, heads_path)


@LOSS_REGISTRY.register(tiny_config={'pretrained': False})
class DISTSLoss(_FeatureDistanceLoss):
    """DISTS as a loss.

    Args:
        loss_weight: the factor of the loss.
        pretrained: ImageNet VGG16 and learned alpha/beta; false for a random trunk with uniform weights (demos
            and tests; a warning in the log).
        backbone_path, alpha_beta_path: explicit weight files; by default the torch hub cache, basicsr's caches
            and the ``DISTS_pytorch`` / ``torchmetrics`` packages (see
            :func:`basicsr.archs.dists_arch.dists_weight_files`).
    """

    def __init__(self, loss_weight: float = 1.0, pretrained: bool = True, backbone_path: str | None = None,
                 alpha_beta_path: str | None = None) -> None:
        super().__init__(loss_weight)
        self.network = DISTSNet(pretrained, backbone_path, alpha_beta_path)

    @staticmethod
    def check_files(pretrained: bool = True, backbone_path: str | None = None, alpha_beta_path: str | None = None,
                    **_: Any) -> None:
        """Raise the CheckpointError of a missing weight file (called before training starts)."""
        dists_weight_files(pretrained, backbone_path, alpha_beta_path)
