"""L1 distance between the 2-D Fourier spectra of two images (SAFMN's ``fft_opt``, Sun et al. ICCV 2023)."""
from typing import Literal

import torch
from torch import nn

from basicsr.losses.loss_util import full_precision
from basicsr.utils.registry import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class FFTLoss(nn.Module):
    """``loss_weight * mean |Re(F(x) - F(y))|, |Im(F(x) - F(y))|``, with ``F`` the unnormalised real 2-D FFT
    (``torch.fft.rfft2``) of each channel: the real and imaginary parts count as separate elements, as in SAFMN.

    Args:
        loss_weight: weight of the term (SAFMN trains with 0.05 beside an L1 pixel loss of weight 1).
        reduction: ``mean`` or ``sum`` over all spectrum elements.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: Literal['mean', 'sum'] = 'mean') -> None:
        super().__init__()
        if reduction not in ('mean', 'sum'):
            raise ValueError(f"reduction must be 'mean' or 'sum' for FFTLoss, got '{reduction}'.")
        self.loss_weight = loss_weight
        self.reduction = reduction

    @full_precision
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # F(x) - F(y) = F(x - y): one transform
        distance = torch.view_as_real(torch.fft.rfft2(pred - target)).abs()
        return self.loss_weight * (distance.mean() if self.reduction == 'mean' else distance.sum())
