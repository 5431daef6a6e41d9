"""Adversarial losses on discriminator logits, and ESRGAN's relativistic average form of them.

Notation: ``C(x)`` is the raw discriminator output (a logit). The relativistic average discriminator of ESRGAN is
``D_Ra(x_r, x_f) = sigmoid(C(x_r) - E[C(x_f)])``; with ``gan_type: vanilla`` the losses below apply BCE to
exactly these relativistic logits.
"""
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import LOSS_REGISTRY

GANType = Literal['vanilla', 'lsgan', 'wgan', 'wgan_softplus', 'hinge']


def relativistic_logits(real_pred: torch.Tensor, fake_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(C(x_r) - E[C(x_f)], C(x_f) - E[C(x_r)])``, the means taken over the whole batch."""
    return real_pred - fake_pred.mean(), fake_pred - real_pred.mean()


@LOSS_REGISTRY.register()
class GANLoss(nn.Module):
    """The adversarial loss of one discriminator output, for a real or a fake target.

    Not a loss term of ``train.losses``: the recipes that own a discriminator compute it (``gan_opt``).

    ``gan_type``:
        vanilla: binary cross-entropy with logits against ``real_label_val`` / ``fake_label_val``.
        lsgan: mean squared error against the same labels.
        wgan: ``-mean(x)`` for real, ``mean(x)`` for fake.
        wgan_softplus: ``mean(softplus(-x))`` for real, ``mean(softplus(x))`` for fake.
        hinge: discriminator ``mean(relu(1 - x))`` for real, ``mean(relu(1 + x))`` for fake; generator ``-mean(x)``.
    ``loss_weight`` scales the generator's loss only (``is_disc=False``); the discriminator's is unweighted.
    """

    compares_with_target = False

    def __init__(self, gan_type: GANType = 'vanilla', real_label_val: float = 1.0, fake_label_val: float = 0.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if gan_type not in GANType.__args__:
            raise ValueError(f"gan_type must be one of {', '.join(GANType.__args__)}, got '{gan_type}'.")
        self.gan_type = gan_type
        self.real_label_val = real_label_val
        self.fake_label_val = fake_label_val
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target_is_real: bool, is_disc: bool = False) -> torch.Tensor:
        if self.gan_type in ('vanilla', 'lsgan'):
            label = torch.full_like(pred, self.real_label_val if target_is_real else self.fake_label_val)
            loss_fn = F.binary_cross_entropy_with_logits if self.gan_type == 'vanilla' else F.mse_loss
            loss = loss_fn(pred, label)
        elif self.gan_type == 'wgan':
            loss = -pred.mean() if target_is_real else pred.mean()
        elif self.gan_type == 'wgan_softplus':
            loss = F.softplus(-pred if target_is_real else pred).mean()
        elif is_disc:  # hinge
            loss = F.relu(1 - pred if target_is_real else 1 + pred).mean()
        else:
            loss = -pred.mean()
        return loss if is_disc else loss * self.loss_weight

    def relativistic_generator_loss(self, real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
        """ESRGAN's generator loss: the real image should look *less* real than the fake one, and the fake *more*
        real than the real one: ``(L(C(x_r) - E[C(x_f)], fake) + L(C(x_f) - E[C(x_r)], real)) / 2``.

        Both terms depend on the generator through ``C(x_f)``, so it learns from real and generated images.
        """
        real_rel, fake_rel = relativistic_logits(real_pred, fake_pred)
        return (self(real_rel, False) + self(fake_rel, True)) / 2

    def relativistic_discriminator_losses(self, real_pred: torch.Tensor,
                                          fake_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ESRGAN's discriminator losses ``(real term, fake term)``, each halved. As in BasicSR, the mean of the
        other branch is treated as a constant, so each term's gradient flows through its own branch only."""
        real_rel, _ = relativistic_logits(real_pred, fake_pred.detach())
        _, fake_rel = relativistic_logits(real_pred.detach(), fake_pred)
        return self(real_rel, True, is_disc=True) / 2, self(fake_rel, False, is_disc=True) / 2
