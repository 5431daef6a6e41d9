"""ESRGAN: SRGAN training with the relativistic average discriminator (RaGAN) in both objectives."""
import torch

from basicsr.models.srgan_model import SRGANModel
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class ESRGANModel(SRGANModel):
    """:class:`SRGANModel` whose adversarial losses compare each image with the mean of the other kind:
    ``D_Ra(x_r, x_f) = sigmoid(C(x_r) - E[C(x_f)])`` (``train.gan_opt``, normally ``gan_type: vanilla``, is
    applied to these relativistic logits; see :meth:`~basicsr.losses.gan_loss.GANLoss.relativistic_generator_loss`).
    """

    def generator_gan_loss(self, fake_pred: torch.Tensor) -> torch.Tensor:
        """Needs the discriminator's view of the real images too; they are constants for the generator."""
        with torch.no_grad():
            real_pred = self.discriminate(self.real_images())
        return self.cri_gan.relativistic_generator_loss(real_pred, fake_pred)

    def discriminator_gan_losses(self, real_pred: torch.Tensor,
                                 fake_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cri_gan.relativistic_discriminator_losses(real_pred, fake_pred)
