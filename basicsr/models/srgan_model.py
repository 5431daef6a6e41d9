"""Adversarial SR training (SRGAN): a generator and a discriminator, each with its own optimiser and schedule."""
from collections import OrderedDict
from typing import Any, Iterator

import torch

from basicsr.archs import build_network  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.losses import build_loss
from basicsr.losses.dsgan_loss import LowFrequencyLoss
from basicsr.models.sr_model import SRModel
from basicsr.utils.frequency import FrequencySeparation
from basicsr.utils.logger import get_root_logger  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.option_schema import (FREQUENCY_SEPARATION, LOSS, OPTIMIZER, Key, Plugin, non_negative,
                                         positive)
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class SRGANModel(SRModel):
    """``network_g`` trained with pixel + perceptual + adversarial losses against ``network_d``.

    Every iteration updates the discriminator. The generator is updated on iterations divisible by
    ``train.net_d_iters`` (BasicSR's meaning: discriminator steps per generator step) once ``train.net_d_init_iters``
    iterations have passed, so a discriminator can first be trained against a fixed (pretrained) generator.
    Logged: ``l_g_pix``, ``l_g_percep``, ``l_g_style``, ``l_g_gan``, ``l_d_real``, ``l_d_fake`` and the mean
    discriminator logits ``out_d_real`` / ``out_d_fake``. Validation, testing and the EMA are SRModel's.

    With ``train.frequency_separation`` (ESRGAN-FS, Fritsche et al. 2019) the pixel loss compares the low
    frequencies of the output and the GT, and the discriminator sees only the high frequencies of its inputs.
    """

    root_options = {'network_d': Plugin('arch')}  # required for training (see check_options), not for testing
    train_options = {
        'optim_d': OPTIMIZER,
        'gan_opt': LOSS,
        'net_d_iters': Key(int, 1, positive, doc='discriminator steps per generator step'),
        'net_d_init_iters': Key(int, 0, non_negative, doc='iterations that train the discriminator only'),
        'frequency_separation': FREQUENCY_SEPARATION,
    }

    own_loss_keys = ('gan_opt',)  # the adversarial term is computed here, not as a content loss term

    @classmethod
    def _training_problems(cls, train: dict[str, Any]) -> Iterator[tuple[str, str]]:
        yield from super()._training_problems(train)
        if not train['gan_opt']:
            yield 'train.gan_opt', f'{cls.__name__} needs an adversarial loss for training but none is given.'
        if not train['optim_d']:
            yield 'train.optim_d', 'required for adversarial training but missing.'

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> Iterator[tuple[str, str]]:
        yield from super().check_options(opt)
        ours = cls.init_training_settings.__module__.startswith('basicsr.')
        if opt['is_train'] and not opt.get('network_d') and ours:
            yield 'network_d', f'{cls.__name__} needs a discriminator for training but none is given.'

    def init_training_settings(self) -> None:
        train_opt = self.opt['train']
        self.net_d = self.build_trained_network('d')
        self.net_d.train()
        self.cri_gan = build_loss(train_opt['gan_opt'], 'train.gan_opt').to(self.device)
        self.net_d_iters = train_opt['net_d_iters']
        self.net_d_init_iters = train_opt['net_d_init_iters']
        self.frequency_separation = self.build_frequency_separation()
        super().init_training_settings()  # EMA, pixel/perceptual losses, optimisers (G then D), schedules
        if self.frequency_separation is not None:
            self.logger.info(f'Frequency separation: {self.frequency_separation}; the pixel loss sees the low, '
                             'the discriminator the high frequencies.')
            pix = self.loss_terms.get('pix')
            if pix is not None:
                pix.loss = self.cri_pix = LowFrequencyLoss(pix.loss, self.frequency_separation)

    def build_frequency_separation(self) -> FrequencySeparation | None:
        """The filter of ``train.frequency_separation``, or None without that section."""
        fs_opt = self.opt['train']['frequency_separation'] if self.is_train else None
        return FrequencySeparation(**fs_opt).to(self.device) if fs_opt else None

    def discriminate(self, img: torch.Tensor) -> torch.Tensor:
        """The discriminator's logits for ``img``: of its high frequencies with frequency separation."""
        if self.frequency_separation is not None:
            img = self.frequency_separation.high(img)
        return self.net_d(img)

    def real_images(self) -> torch.Tensor:
        """The images the discriminator must call real: the GT."""
        return self.gt

    def setup_optimizers(self) -> None:
        super().setup_optimizers()
        self.optimizer_d = self.build_optimizer(self.opt['train']['optim_d'], self.net_d.parameters(),
                                                'train.optim_d')

    def generator_steps_at(self, current_iter: int) -> bool:
        """Whether the generator is updated in iteration ``current_iter``."""
        return current_iter > self.net_d_init_iters and current_iter % self.net_d_iters == 0

    def optimize_parameters(self, current_iter: int) -> None:
        self.apply_batch_augment()
        if self.generator_steps_at(current_iter):
            self._generator_step(current_iter)
        else:
            with torch.no_grad(), self.autocast():
                self.output = self.net_g(self.lq)
        self._discriminator_step(current_iter)
        if self.ema_decay > 0 and self.micro_batch.last:
            self.model_ema(self.ema_decay)

    def _generator_step(self, current_iter: int) -> None:
        self.net_d.requires_grad_(False)  # the adversarial term must not leave gradients in D
        self.zero_grad(self.optimizer_g)
        with self.autocast():
            self.output = self.net_g(self.lq)
            losses = self.content_losses(prefix='l_g_')
            losses['l_g_gan'] = self.generator_gan_loss(self.discriminate(self.output))
        self.guarded_step(losses, self.optimizer_g, current_iter)
        self.net_d.requires_grad_(True)

    def _discriminator_step(self, current_iter: int) -> None:
        self.zero_grad(self.optimizer_d)
        with self.autocast():
            real_pred = self.discriminate(self.real_images())
            fake_pred = self.discriminate(self.output.detach())
            l_d_real, l_d_fake = self.discriminator_gan_losses(real_pred, fake_pred)
        losses = OrderedDict(l_d_real=l_d_real, l_d_fake=l_d_fake)
        if self.guarded_step(losses, self.optimizer_d, current_iter):
            self.accumulate_losses({'out_d_real': real_pred.detach().mean(), 'out_d_fake': fake_pred.detach().mean()})

    def generator_gan_loss(self, fake_pred: torch.Tensor) -> torch.Tensor:
        """The adversarial term of the generator loss, from the discriminator's logits on ``self.output``."""
        return self.cri_gan(fake_pred, True, is_disc=False)

    def discriminator_gan_losses(self, real_pred: torch.Tensor,
                                 fake_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The discriminator's losses on real (:meth:`real_images`) and generated images."""
        return self.cri_gan(real_pred, True, is_disc=True), self.cri_gan(fake_pred, False, is_disc=True)

