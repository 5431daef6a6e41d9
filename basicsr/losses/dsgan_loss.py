"""The frequency-separated content loss of DSGAN and ESRGAN-FS (Fritsche et al., ICCVW 2019).

DSGAN's colour loss is an L1 loss between the low-pass filtered generated image and the low-pass filtered bicubic
source; ESRGAN-FS's pixel loss is the same between SR output and HR. Both models build the configured pixel loss
(``train.pixel_opt``) and wrap it here with the filter of ``train.frequency_separation``. The adversarial half
(the discriminator sees high frequencies only) is the models' ``discriminate``.
"""
import torch
from torch import nn

from basicsr.utils.frequency import FrequencySeparation


class LowFrequencyLoss(nn.Module):
    """``loss(low(x), low(y))``: any pixel loss, applied to the low frequencies of both images only, so that it
    constrains colours and coarse structure and leaves textures and noise to the adversarial loss."""

    def __init__(self, loss: nn.Module, separation: FrequencySeparation) -> None:
        super().__init__()
        self.loss = loss
        self.separation = separation

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss(self.separation.low(x), self.separation.low(y))
