"""Gradient variance loss (Abrahamyan, Truong, Chen and Deligiannis, "Gradient Variance Loss for
Structure-Enhanced Image Super-Resolution", ICASSP 2022).

Sharp structure shows as a high variance of the image gradient within small patches; blurry outputs have less.
The loss compares those variances: the grey image's Sobel gradients (zero-padded borders) are cut into
non-overlapping ``patch_size x patch_size`` patches, and the unbiased variance of each patch's horizontal and
vertical gradient in the output is compared with the target's.
"""
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.losses.loss_util import full_precision
from basicsr.losses.pixel_loss import PixelCriterion, pixel_criterion
from basicsr.utils.errors import DataError
from basicsr.utils.registry import LOSS_REGISTRY

_GREY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # the paper's (and traiNNer-redux's) RGB -> grey
_SOBEL_X = ((-1., 0., 1.), (-2., 0., 2.), (-1., 0., 1.))


@LOSS_REGISTRY.register()
class GradientVarianceLoss(nn.Module):
    """``loss_weight * (criterion(var_patches(G_x(x)), var_patches(G_x(y))) + the same for G_y)``.

    Args:
        loss_weight: weight of the term.
        patch_size: side of the patches (traiNNer-redux's 16; the paper uses 8). Images must be at least this
            large; a trailing part smaller than a patch is left out.
        criterion: ``charbonnier`` (traiNNer-redux's default), ``l1`` or ``l2`` (the paper's mean squared error).
    """

    def __init__(self, loss_weight: float = 1.0, patch_size: int = 16, criterion: PixelCriterion = 'charbonnier'
                 ) -> None:
        super().__init__()
        if patch_size < 2:
            raise ValueError(f'patch_size must be >= 2 (a variance needs two values), got {patch_size}.')
        self.loss_weight = loss_weight
        self.patch_size = patch_size
        self.criterion = pixel_criterion(criterion)
        sobel_x = torch.tensor(_SOBEL_X)
        self.register_buffer('sobel', torch.stack([sobel_x, sobel_x.T])[:, None], persistent=False)  # (2, 1, 3, 3)

    def _patch_variances(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 2, patches): the variance of the x and y gradients in each patch."""
        w_r, w_g, w_b = _GREY_WEIGHTS
        grey = x[:, 0:1] * w_r + x[:, 1:2] * w_g + x[:, 2:3] * w_b
        gradients = F.conv2d(grey, self.sobel.to(x.dtype), padding=1)  # (N, 2, H, W)
        patches = F.unfold(gradients, self.patch_size, stride=self.patch_size)  # (N, 2 * p * p, patches)
        return patches.unflatten(1, (2, -1)).var(dim=2)

    @full_precision
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if min(pred.shape[-2:]) < self.patch_size:
            raise DataError(f'GradientVarianceLoss: images of {pred.shape[-2]}x{pred.shape[-1]} are smaller than '
                            f'patch_size {self.patch_size}.')
        variances_pred, variances_target = self._patch_variances(pred), self._patch_variances(target)
        return self.loss_weight * sum(self.criterion(variances_pred[:, d], variances_target[:, d]) for d in (0, 1))
