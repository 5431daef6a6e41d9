"""A recipe in one file, as a researcher adds one: SRModel plus an edge loss with its own option keys.

``train.edge_opt`` (any registered loss) compares the image gradients of the output and the GT, weighted by the
root-level ``edge_weight``; ``train.edge_start_iter`` delays the term. Nothing else in the project changes.
"""
from collections import OrderedDict

import torch

from basicsr.losses import build_loss
from basicsr.models.sr_model import SRModel
from basicsr.utils.option_schema import LOSS, Key, non_negative, positive
from basicsr.utils.registry import MODEL_REGISTRY


def image_gradients(img: torch.Tensor) -> torch.Tensor:
    """Horizontal and vertical finite differences, stacked on the channel axis (cropped to a common size)."""
    dx = img[..., :-1, 1:] - img[..., :-1, :-1]
    dy = img[..., 1:, :-1] - img[..., :-1, :-1]
    return torch.cat([dx, dy], dim=1)


@MODEL_REGISTRY.register()
class EdgeSRModel(SRModel):
    root_options = {'edge_weight': Key(float, 1.0, positive, doc='weight of the edge loss')}
    own_loss_keys = ('edge_opt',)  # computed below, not as one of SRModel's loss terms
    train_options = {
        'edge_opt': LOSS,
        'edge_start_iter': Key(int, 0, non_negative, doc='iterations before the edge loss starts'),
    }

    def init_training_settings(self) -> None:
        super().init_training_settings()
        self.cri_edge = build_loss(self.opt['train']['edge_opt'], 'train.edge_opt').to(self.device)
        self.current_iter = 0

    def optimize_parameters(self, current_iter: int) -> None:
        self.current_iter = current_iter
        super().optimize_parameters(current_iter)

    def content_losses(self, prefix: str = 'l_') -> 'OrderedDict[str, torch.Tensor]':
        losses = super().content_losses(prefix)
        if self.current_iter > self.opt['train']['edge_start_iter']:
            edge = self.cri_edge(image_gradients(self.output), image_gradients(self.gt))
            losses[f'{prefix}edge'] = self.opt['edge_weight'] * edge
        return losses
