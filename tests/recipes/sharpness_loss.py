"""A new loss in one file, as a researcher adds one: registered here, used from YAML with no model change."""
import torch
from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class SharpnessLoss(nn.Module):
    """L1 distance between the Laplacians of the output and the target (a test loss)."""

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        kernel = torch.tensor([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]]).expand(3, 1, 3, 3).clone()
        self.register_buffer('kernel', kernel)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        laplacian = lambda x: nn.functional.conv2d(x, self.kernel, groups=3)  # noqa: E731
        return self.loss_weight * (laplacian(output) - laplacian(target)).abs().mean()
