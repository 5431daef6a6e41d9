"""Real-ESRGAN (Wang et al. 2021, arXiv 2107.10833): the GAN stage, L1 + perceptual + adversarial losses with a
U-Net discriminator, on synthetic real-world pairs (or on real pairs for fine-tuning)."""
from typing import Any

import torch

from basicsr.data.degradations import (  # noqa: F401  (BasicSR 1.4.2 exposes them here)
    random_add_gaussian_noise_pt, random_add_poisson_noise_pt)
from basicsr.data.transforms import paired_random_crop  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.models.online_degradation import SyntheticPairs
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils.diffjpeg import DiffJPEG  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.img_process_util import USMSharp, filter2D  # noqa: F401  (BasicSR 1.4.2 exposes them here)
from basicsr.utils.option_schema import Key
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class RealESRGANModel(SyntheticPairs, SRGANModel):
    """:class:`SRGANModel` (a standard, not relativistic, GAN loss; Real-ESRGAN uses ``gan_type: vanilla`` with
    ``UNetDiscriminatorSN``) trained on pairs degraded on the fly (:class:`~basicsr.models.online_degradation.
    SyntheticPairs`), or on the dataset's pairs with ``high_order_degradation: false``.

    The LQ images are made from the USM-sharpened GT. Each loss compares with the sharpened GT (``gt_usm``) or the
    plain one, as ``l1_gt_usm``, ``percep_gt_usm`` and ``gan_gt_usm`` say (root keys, as in the published files;
    for the discriminator, ``gan_gt_usm`` picks its real images).
    """

    root_options = {
        'l1_gt_usm': Key(bool, True, doc='the pixel loss compares with the USM-sharpened GT'),
        'percep_gt_usm': Key(bool, True, doc='the perceptual loss compares with the USM-sharpened GT'),
        'gan_gt_usm': Key(bool, False, doc="the discriminator's real images are the USM-sharpened GT"),
    }

    def degradation_source(self, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return gt, self.usm_sharpener(gt)

    def feed_data(self, data: dict[str, Any]) -> None:
        super().feed_data(data)
        if self.is_train:  # after the pool, from the GT patches actually used
            self.gt_usm = self.usm_sharpener(self.gt)

    loss_targets = ('gt', 'gt_usm')

    def default_loss_target(self, name: str) -> str:
        """The pixel term follows ``l1_gt_usm``, every other term ``percep_gt_usm`` (as the published files)."""
        sharpened = self.opt['l1_gt_usm'] if name == 'pix' else self.opt['percep_gt_usm']
        return 'gt_usm' if sharpened else 'gt'

    def apply_batch_augment(self) -> None:
        super().apply_batch_augment()
        if self.batch_augment.augmentations:  # the sharpened target follows the augmented GT
            self.gt_usm = self.usm_sharpener(self.gt)

    def real_images(self) -> torch.Tensor:
        return self.gt_usm if self.opt['gan_gt_usm'] else self.gt
