"""Real-ESRNet (Wang et al. 2021, "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic
Data", arXiv 2107.10833): the PSNR-oriented first stage, an L1-trained generator on synthetic real-world pairs."""
import torch

from basicsr.data.degradations import (  # noqa: F401  (BasicSR 1.4.2 exposes them here)
    random_add_gaussian_noise_pt, random_add_poisson_noise_pt)
from basicsr.data.transforms import paired_random_crop  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.models.online_degradation import SyntheticPairs
from basicsr.models.sr_model import SRModel
from basicsr.utils.diffjpeg import DiffJPEG  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.img_process_util import USMSharp, filter2D  # noqa: F401  (BasicSR 1.4.2 exposes them here)
from basicsr.utils.option_schema import Key
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class RealESRNetModel(SyntheticPairs, SRModel):
    """:class:`SRModel` trained on pairs degraded on the fly (:class:`~basicsr.models.online_degradation.
    SyntheticPairs`: Real-ESRGAN's or BSRGAN's pipeline, ``gt_size`` crops, the ``queue_size`` pool).

    With ``gt_usm`` (the published value) the GT is USM-sharpened first, and both the LQ and the target come from
    the sharpened GT, as in BasicSR's ``RealESRNetModel``.
    """

    root_options = {'gt_usm': Key(bool, True, doc='USM-sharpen the GT before degrading it and training on it')}

    def degradation_source(self, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.opt['gt_usm']:
            gt = self.usm_sharpener(gt)
        return gt, gt
