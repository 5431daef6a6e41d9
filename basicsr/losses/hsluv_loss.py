"""HSLuv loss: hue, saturation and lightness compared in HSLuv (hsluv.org), a perceptually uniform space whose
saturation is relative to the sRGB gamut, as traiNNer-redux's ``HSLuvLoss`` defines the comparison.

Also the differentiable sRGB -> CIE XYZ -> HSLuv conversion (constants of the HSLuv reference implementation, with
which the tests compare it) and CIE L*, which :mod:`.luma_loss` uses. The conversion is written so that black, white
and grey pixels (undefined hue, zero chroma) give finite gradients.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.losses.loss_util import full_precision
from basicsr.losses.pixel_loss import PixelCriterion, pixel_criterion
from basicsr.utils.registry import LOSS_REGISTRY

# sRGB (linear) -> CIE XYZ, D65, and the HSLuv reference implementation's constants
_RGB_TO_XYZ = ((0.41239079926595, 0.35758433938387, 0.18048078840183),
               (0.21263900587151, 0.71516867876775, 0.072192315360733),
               (0.019330818715591, 0.11919477979462, 0.95053215224966))
_XYZ_TO_RGB = ((3.240969941904521, -1.537383177570093, -0.498610760293),
               (-0.96924363628087, 1.87596750150772, 0.041555057407175),
               (0.055630079696993, -0.20397695888897, 1.056971514242878))
_REF_U, _REF_V = 0.19783000664283, 0.46831999493879  # u', v' of the D65 white
_KAPPA, _EPSILON = 903.2962962, 0.0088564516  # CIE L*: linear below Y = epsilon, cube root above
_SRGB_KNEE = 0.04045
_GREY_CHROMA = 1e-8  # below this chroma the hue is undefined (0), as in the reference implementation
_DEFINED_L = (1e-8, 99.9999999)  # outside, saturation is 0 (black, white)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB transfer curve (values <= 0.04045 on its linear segment, negative ones included)."""
    curved = ((x.clamp_min(_SRGB_KNEE) + 0.055) / 1.055)**2.4
    return torch.where(x > _SRGB_KNEE, curved, x / 12.92)


def srgb_to_xyz(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB in [0, 1] -> CIE XYZ (D65, Y = 1 for white)."""
    matrix = torch.tensor(_RGB_TO_XYZ, dtype=x.dtype, device=x.device)
    return torch.einsum('ij,njhw->nihw', matrix, srgb_to_linear(x))


def cie_lightness(y: torch.Tensor) -> torch.Tensor:
    """CIE L* in [0, 100] of the relative luminance ``y`` (1 = white)."""
    curved = 116 * y.clamp_min(_EPSILON)**(1 / 3) - 16
    return torch.where(y > _EPSILON, curved, y * _KAPPA)


def _max_chroma(lightness: torch.Tensor, hue_radians: torch.Tensor) -> torch.Tensor:
    """The largest CIE LCh chroma inside the sRGB gamut at this lightness (in (0, 100)) and hue: the nearest of the
    six gamut planes R, G, B = 0 or 1 along the hue's ray."""
    sub = (lightness + 16)**3 / 1560896
    sub = torch.where(sub > _EPSILON, sub, lightness / _KAPPA)
    lengths = []
    for m1, m2, m3 in _XYZ_TO_RGB:
        for t in (0, 1):
            top1 = (284517 * m1 - 94839 * m3) * sub
            top2 = ((838422 * m3 + 769860 * m2 + 731718 * m1) * sub - 769860 * t) * lightness
            bottom = (632260 * m3 - 126452 * m2) * sub + 126452 * t
            # the ray meets the line chroma = top2 / (bottom sin h - top1 cos h), multiplied out of the reference's
            # slope/intercept form so that no bottom of 0 is divided by
            denominator = bottom * torch.sin(hue_radians) - top1 * torch.cos(hue_radians)
            denominator = torch.where(denominator.abs() > 1e-9, denominator, torch.full_like(denominator, 1e-9))
            lengths.append(top2 / denominator)
    lengths = torch.stack(lengths)
    return torch.where(lengths >= 0, lengths, torch.full_like(lengths, math.inf)).amin(dim=0)


def rgb_to_hsluv(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB in [0, 1] -> HSLuv: hue in [0, 360) degrees, saturation and lightness in [0, 100]."""
    cie_x, cie_y, cie_z = srgb_to_xyz(x).unbind(dim=1)
    lightness = cie_lightness(cie_y)
    denominator = cie_x + 15 * cie_y + 3 * cie_z
    denominator = torch.where(denominator.abs() > 1e-12, denominator, torch.ones_like(denominator))  # black: L = 0
    u = 13 * lightness * (4 * cie_x / denominator - _REF_U)
    v = 13 * lightness * (9 * cie_y / denominator - _REF_V)
    chroma_sq = u.square() + v.square()
    grey = chroma_sq <= _GREY_CHROMA**2
    chroma = torch.where(grey, 0., chroma_sq.clamp_min(_GREY_CHROMA**2).sqrt())
    hue_radians = torch.where(grey, 0., torch.atan2(torch.where(grey, 0., v), torch.where(grey, 1., u)))
    defined = (lightness > _DEFINED_L[0]) & (lightness < _DEFINED_L[1])
    max_chroma = _max_chroma(torch.where(defined, lightness, 50.), hue_radians)
    saturation = torch.where(defined, chroma / max_chroma * 100, 0.)
    hue = torch.remainder(torch.rad2deg(hue_radians), 360)
    return torch.stack([hue, saturation, lightness.clamp(0, 100)], dim=1)


@LOSS_REGISTRY.register()
class HSLuvLoss(nn.Module):
    """Hue, saturation and lightness differences in HSLuv, each scaled to [0, 1], returned as three terms
    ``{'hue', 'saturation', 'lightness'}``, each already multiplied by ``loss_weight`` and its own weight.

    - hue: the shorter way round the hue circle, doubled so that opposite hues give 1; 0 where both colours are
      nearly grey (saturation < 0.1) or both nearly black (lightness < 0.1) or nearly white (> 0.9); the larger
      saturation where only one of them is nearly grey. Always L1.
    - saturation: ``criterion`` per pixel, weighted by ``min(l, 1 - l)`` of both colours (saturation matters
      least near black and white).
    - lightness: ``criterion`` per pixel.

    Images are clamped to [0, 1] (the sRGB gamut, where HSLuv is defined) first.

    Args:
        loss_weight: weight of all three terms.
        hue_weight, saturation_weight, lightness_weight: the terms' own weights.
        criterion: ``l1``, ``l2`` or ``charbonnier``, for saturation and lightness.
        downscale_factor: compare the images after an antialiased bicubic downscale by this factor (1: none).
    """

    _NEAR = 0.1  # "nearly" grey, black or white, on the [0, 1] scales

    def __init__(self, loss_weight: float = 1.0, hue_weight: float = 1 / 3, saturation_weight: float = 1 / 3,
                 lightness_weight: float = 1 / 3, criterion: PixelCriterion = 'l1', downscale_factor: int = 1) -> None:
        super().__init__()
        if downscale_factor < 1:
            raise ValueError(f'downscale_factor must be >= 1, got {downscale_factor}.')
        self.loss_weight = loss_weight
        self.weights = {'hue': hue_weight, 'saturation': saturation_weight, 'lightness': lightness_weight}
        self.criterion = pixel_criterion(criterion, reduction='none')
        self.downscale_factor = downscale_factor

    def _hsl(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hue, saturation and lightness on [0, 1] scales, each (N, H, W)."""
        if self.downscale_factor > 1:
            x = F.interpolate(x, scale_factor=1 / self.downscale_factor, mode='bicubic', antialias=True)
        hsluv = rgb_to_hsluv(x.clamp(0, 1))
        return hsluv[:, 0] / 360, hsluv[:, 1] / 100, hsluv[:, 2] / 100

    def _hue_distance(self, hue: tuple[torch.Tensor, torch.Tensor], saturation: tuple[torch.Tensor, torch.Tensor],
                      lightness: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        gap = (hue[0] - hue[1]).abs()
        distance = 2 * torch.minimum(gap, 1 - gap)
        grey_x, grey_y = saturation[0] < self._NEAR, saturation[1] < self._NEAR
        distance = torch.where(grey_x != grey_y, torch.maximum(*saturation), distance)
        no_hue = (grey_x & grey_y) | ((lightness[0] < self._NEAR) & (lightness[1] < self._NEAR)) | (
            (lightness[0] > 1 - self._NEAR) & (lightness[1] > 1 - self._NEAR))
        return torch.where(no_hue, torch.zeros_like(distance), distance)

    @full_precision
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        (hue_x, sat_x, light_x), (hue_y, sat_y, light_y) = self._hsl(pred), self._hsl(target)
        mid_lightness = torch.minimum(light_x, 1 - light_x) + torch.minimum(light_y, 1 - light_y)
        terms = {
            'hue': self._hue_distance((hue_x, hue_y), (sat_x, sat_y), (light_x, light_y)).mean(),
            'saturation': (self.criterion(sat_x, sat_y) * mid_lightness).mean(),
            'lightness': self.criterion(light_x, light_y).mean(),
        }
        return {name: self.loss_weight * self.weights[name] * value for name, value in terms.items()}
