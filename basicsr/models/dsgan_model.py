"""DSGAN (Fritsche et al., "Frequency Separation for Real-World Super-Resolution", ICCVW 2019): learn the
degradation of real low-resolution images from unpaired data, at low resolution."""
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from basicsr.metrics import calculate_psnr_pt, mean_metrics, quantize_tensor
from basicsr.models.sr_model import comparison_grid, dataset_name_of, sharded_batches
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils.dist_util import all_gather_objects
from basicsr.utils.frequency import FrequencySeparation, high_frequency_energy
from basicsr.utils.img_util import tensor2img
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class DSGANModel(SRGANModel):
    """Trains ``network_g`` (normally DSGANGenerator) to turn a bicubic-downscaled clean image X_b into an image of
    the target domain z at the same size, from UnpairedImageDataset batches (``lq`` = X_b, ``target`` = z).

    Losses (``train.*``), as in the paper with frequency separation always on (``train.frequency_separation``,
    avg 5x5 by default):
        pixel_opt: the colour loss, between the low frequencies of G(X_b) and X_b (logged as ``l_g_pix``).
        perceptual_opt: between G(X_b) and X_b (LPIPSLoss in options/dsgan_x4.yml, as in the paper).
        gan_opt: the adversarial loss; the discriminator sees the high frequencies of G(X_b) (fake) and z (real).
    The update schedule, optimisers, saving and resuming are SRGANModel's.

    Validation (:meth:`nondist_validation`) reports, per validation set:
        color_psnr: PSNR (dB) between low(G(X_b)) and low(X_b): colours kept when high (above ~35 dB).
        hf_energy_generated / hf_energy_bicubic / hf_energy_target: mean squared high-pass (0-255 scale) of G(X_b),
            of X_b and of the target images; DSGAN should move the first from the second towards the third.
    """

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__(opt)
        if not self.is_train:  # training builds it with the losses
            self.frequency_separation = self.build_frequency_separation()

    def build_frequency_separation(self) -> FrequencySeparation:
        """``train.frequency_separation``, or DSGAN's default (avg 5x5) without that section."""
        return super().build_frequency_separation() or FrequencySeparation().to(self.device)

    def feed_data(self, data: dict[str, Any]) -> None:
        self.lq = self.to_device(data['lq'])
        self.gt = self.lq  # the content losses compare G(X_b) with X_b itself
        self.target = self.to_device(data['target']) if 'target' in data else None

    def real_images(self) -> torch.Tensor:
        """The discriminator's real images: the target domain."""
        return self.target

    @torch.inference_mode()
    def degradation_figures(self) -> dict[str, float]:
        """Colour PSNR and high-frequency energies of ``self.output`` (quantised to 8 bits) and ``self.lq``."""
        separation = self.frequency_separation
        generated = quantize_tensor(self.output)
        return {
            'color_psnr': float(calculate_psnr_pt(separation.low(generated), separation.low(self.lq), 0)[0]),
            'hf_energy_generated': float(high_frequency_energy(generated, separation)[0]),
            'hf_energy_bicubic': float(high_frequency_energy(self.lq, separation)[0]),
        }

    def nondist_validation(self, dataloader: DataLoader, current_iter: int, tb_logger: Any = None,
                           save_img: bool = False) -> dict[str, dict[str, float]]:
        """Degrade every source image of ``dataloader`` (an UnpairedImageDataset); log and send to TensorBoard
        (``metrics/<set>/<figure>``) the means of the class docstring's figures, each image counted once.

        Every rank must call it; in distributed runs each rank takes its share of the samples and the figures are
        gathered. With ``save_img``, G(X_b) is saved; TensorBoard gets X_b | G(X_b) for the first ``val.tb_images``
        samples. Returns the figures per source image.
        """
        dataset_name = dataset_name_of(dataloader)
        val_opt = self.opt['val']
        sources, targets = {}, {}  # image name / target path -> figures; a set may repeat the smaller side
        for index, data in sharded_batches(dataloader, f'Validate {dataset_name}', val_opt['pbar']):
            image = None
            if data is not None:
                name = Path(data['lq_path'][0]).stem
                self.feed_data(data)
                targets[data['target_path'][0]] = float(high_frequency_energy(self.target,
                                                                              self.frequency_separation)[0])
                if name not in sources:
                    self.test()
                    sources[name] = self.degradation_figures()
                    image = (name, tensor2img(self.output)) if save_img else None
                    if tb_logger is not None and index < val_opt['tb_images']:
                        tb_logger.add_image(f'images/{dataset_name}/{name}',
                                            comparison_grid(self.lq, self.output, None, 1), current_iter)
                    del self.output
                del self.lq, self.gt, self.target
            if save_img:
                self._save_images_on_master(image, dataset_name, current_iter)
        for rank_sources, rank_targets in all_gather_objects((sources, targets)):
            sources.update(rank_sources)
            targets.update(rank_targets)
        self.metric_results = mean_metrics(sources)
        self.metric_results['hf_energy_target'] = sum(targets.values()) / len(targets)
        self._log_validation_metric_values(current_iter, dataset_name, tb_logger)
        return sources
