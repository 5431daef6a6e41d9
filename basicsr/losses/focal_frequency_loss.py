"""Focal frequency loss (Jiang, Dai, Wu and Loy, "Focal Frequency Loss for Image Reconstruction and Synthesis",
ICCV 2021).

The squared distance between the orthonormal 2-D DFTs of the two images, frequency by frequency, weighted by a
"spectrum weight matrix" ``w = |F_x - F_y|^alpha`` scaled to [0, 1] and treated as a constant (no gradient), so that
the frequencies the network currently gets most wrong count most. The authors' package is ``focal-frequency-loss``
on PyPI; this gives its values (the test compares them) but defaults, like traiNNer-redux and neosr, to the
mini-batch average spectrum.
"""
import torch
from torch import nn

from basicsr.losses.loss_util import full_precision
from basicsr.utils.errors import DataError
from basicsr.utils.registry import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class FocalFrequencyLoss(nn.Module):
    """``loss_weight * mean(w * |F_x - F_y|^2)`` over images, patches, channels and frequencies.

    Args:
        loss_weight: weight of the term. traiNNer-redux's ``FFLoss`` multiplies its value by 50 internally: its
            ``loss_weight: w`` is ``loss_weight: 50 w`` here.
        alpha: exponent of the spectrum weight matrix.
        patch_factor: each image is cut into ``patch_factor x patch_factor`` patches, each transformed on its own
            (it must divide the height and width).
        ave_spectrum: compare the spectra averaged over the mini-batch (redux's and neosr's default; the paper's
            package defaults to False).
        log_matrix: use ``log(1 + w)`` as the weight before scaling.
        batch_matrix: scale the weights by their maximum over the whole batch instead of per image, patch and
            channel.
    """

    def __init__(self, loss_weight: float = 1.0, alpha: float = 1.0, patch_factor: int = 1,
                 ave_spectrum: bool = True, log_matrix: bool = False, batch_matrix: bool = False) -> None:
        super().__init__()
        if patch_factor < 1:
            raise ValueError(f'patch_factor must be >= 1, got {patch_factor}.')
        self.loss_weight = loss_weight
        self.alpha = alpha
        self.patch_factor = patch_factor
        self.ave_spectrum = ave_spectrum
        self.log_matrix = log_matrix
        self.batch_matrix = batch_matrix

    def _patch_spectra(self, x: torch.Tensor) -> torch.Tensor:
        """Orthonormal DFT of each patch: (N, C, H, W) -> complex (N, C, f, f, H / f, W / f), f = patch_factor."""
        n, c, h, w = x.shape
        f = self.patch_factor
        if h % f or w % f:
            raise DataError(f'FocalFrequencyLoss: patch_factor {f} must divide the image size, got {h}x{w}.')
        patches = x.reshape(n, c, f, h // f, f, w // f).transpose(3, 4)
        return torch.fft.fft2(patches, norm='ortho')

    @full_precision
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # F(x) - F(y) = F(x - y), and the batch average commutes with F: one transform of the difference
        diff = self._patch_spectra(pred - target)
        if self.ave_spectrum:
            diff = diff.mean(dim=0, keepdim=True)
        distance = diff.real.square() + diff.imag.square()
        with torch.no_grad():
            weight = distance.sqrt()**self.alpha
            if self.log_matrix:
                weight = torch.log1p(weight)
            peak = weight.amax() if self.batch_matrix else weight.amax(dim=(-2, -1), keepdim=True)
            weight = weight / peak.clamp_min(torch.finfo(weight.dtype).tiny)  # an all-zero spectrum stays zero
        return self.loss_weight * (weight * distance).mean()
