"""The losses of issue 24: LDL, focal frequency, FFT, MS-SSIM-L1, colour, luma, HSLuv and gradient variance.

Each is checked against a reference: the authors' package where there is one (``focal-frequency-loss``, ``hsluv``,
the project's own SSIM for MS-SSIM-L1's windows), otherwise a float64 numpy transcription of the formula written
here; and for finite, correct gradients (``gradcheck``), also on the inputs that break naive versions (identical
images, flat residuals, black, white and grey pixels).
"""
import math

import hsluv
import numpy as np
import pytest
import torch
from focal_frequency_loss import FocalFrequencyLoss as ReferenceFocalFrequencyLoss
from numpy.lib.stride_tricks import sliding_window_view

from basicsr.losses import build_loss
from basicsr.losses.hsluv_loss import rgb_to_hsluv
from basicsr.metrics.psnr_ssim import calculate_ssim_pt
from basicsr.utils.errors import DataError, OptionError

SIZE = 32


def _pair(seed: int = 0, size: int = SIZE, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """A target and a noisy prediction of it, float64 in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(batch, 3, size, size, generator=generator, dtype=torch.float64)
    noise = 0.1 * torch.randn(target.shape, generator=generator, dtype=torch.float64)
    return (target + noise).clamp(0, 1), target


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy().astype(np.float64)


def _total(value: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(value.values()) if isinstance(value, dict) else value


# every loss, with non-default values for its keys as an option file would give them
OPTIONS = {
    'LDLLoss': {'loss_weight': 1.0, 'criterion': 'l2', 'ksize': 5},
    'FocalFrequencyLoss': {'loss_weight': 2.0, 'alpha': 2, 'patch_factor': 2, 'ave_spectrum': False,
                           'log_matrix': True, 'batch_matrix': True},
    'FFTLoss': {'loss_weight': 0.05, 'reduction': 'sum'},
    'MSSSIML1Loss': {'loss_weight': 1.0, 'alpha': 0.5, 'gaussian_sigmas': [0.5, 1, 2], 'data_range': 1.0,
                     'k': [0.01, 0.03]},
    'ColorLoss': {'loss_weight': 1.0, 'criterion': 'charbonnier', 'scale': 2},
    'LumaLoss': {'loss_weight': 1.0, 'criterion': 'l2'},
    'HSLuvLoss': {'loss_weight': 1.0, 'hue_weight': 0.5, 'saturation_weight': 0.25, 'lightness_weight': 0.25,
                  'criterion': 'charbonnier', 'downscale_factor': 2},
    'GradientVarianceLoss': {'loss_weight': 1.0, 'patch_size': 8, 'criterion': 'l1'},
}


def _call(loss: torch.nn.Module, pred: torch.Tensor, target: torch.Tensor, ema: torch.Tensor | None = None):
    extras = {'output_ema': target if ema is None else ema} if getattr(loss, 'extra_inputs', ()) else {}
    return loss(pred, target, **extras)


@pytest.mark.parametrize('name', OPTIONS)
def test_builds_from_options_and_checks_keys(name):
    loss = build_loss({'type': name, **OPTIONS[name]}, 'train.losses[0]')
    pred, target = _pair()
    value = _total(_call(loss, pred, target, ema=target + 0.05))
    assert value.dim() == 0 and torch.isfinite(value)
    with pytest.raises(OptionError, match=r'train\.losses\[0\]\.loss_wieght'):
        build_loss({'type': name, 'loss_wieght': 1.0}, 'train.losses[0]')


@pytest.mark.parametrize('name', ['LDLLoss', 'ColorLoss', 'LumaLoss', 'HSLuvLoss', 'GradientVarianceLoss'])
def test_criterion_is_validated(name):
    with pytest.raises(OptionError, match=r'train\.losses\[1\]\.criterion.*huber'):
        build_loss({'type': name, 'criterion': 'huber'}, 'train.losses[1]')


def test_loss_weight_scales_every_loss():
    pred, target = (x.float() for x in _pair(seed=1, batch=1))
    for name in OPTIONS:
        one = _total(_call(build_loss({'type': name}), pred, target, ema=target + 0.05))
        three = _total(_call(build_loss({'type': name, 'loss_weight': 3.0}), pred, target, ema=target + 0.05))
        assert torch.allclose(three, 3 * one, rtol=1e-6), name
        assert one > 0, name


# --- FFTLoss ---------------------------------------------------------------------------------------------------


def _dft_matrix(n: int) -> np.ndarray:
    k = np.arange(n)
    return np.exp(-2j * np.pi * np.outer(k, k) / n)


def test_fft_loss_is_mean_abs_of_real_and_imaginary_rfft2_difference():
    pred, target = _pair(size=12)
    diff = _np(pred - target)
    h, w = diff.shape[-2:]
    spectrum = np.einsum('uh,nchw,vw->ncuv', _dft_matrix(h), diff, _dft_matrix(w)[:w // 2 + 1])  # rfft2
    parts = np.abs(np.stack([spectrum.real, spectrum.imag]))
    assert build_loss({'type': 'FFTLoss'})(pred, target).item() == pytest.approx(parts.mean(), rel=1e-10)
    summed = build_loss({'type': 'FFTLoss', 'loss_weight': 0.05, 'reduction': 'sum'})(pred, target)
    assert summed.item() == pytest.approx(0.05 * parts.sum(), rel=1e-10)


# --- FocalFrequencyLoss ----------------------------------------------------------------------------------------


@pytest.mark.parametrize('options', [
    {},
    {'ave_spectrum': False},
    {'alpha': 2.0, 'patch_factor': 4, 'log_matrix': True},
    {'ave_spectrum': False, 'batch_matrix': True, 'patch_factor': 2},
])
def test_focal_frequency_loss_equals_the_authors_package(options):
    pred, target = (x.float() for x in _pair())
    ours = build_loss({'type': 'FocalFrequencyLoss', 'loss_weight': 0.5, **options})(pred, target)
    reference = ReferenceFocalFrequencyLoss(loss_weight=0.5, **{'ave_spectrum': True, **options})(pred, target)
    assert ours.item() == pytest.approx(reference.item(), rel=1e-5)


def test_focal_frequency_loss_patch_factor_must_divide_the_size():
    pred, target = _pair(size=30)
    with pytest.raises(DataError, match='patch_factor 4'):
        build_loss({'type': 'FocalFrequencyLoss', 'patch_factor': 4})(pred, target)


# --- MSSSIML1Loss ----------------------------------------------------------------------------------------------


def _blur_np(x: np.ndarray, sigma: float) -> np.ndarray:
    """Dense 2-D Gaussian window reaching ceil(3 sigma), edges replicated: the paper's local weighting."""
    radius = math.ceil(3 * sigma)
    offsets = np.arange(-radius, radius + 1)
    window = np.exp(-(offsets[:, None]**2 + offsets[None]**2) / (2 * sigma**2))
    window /= window.sum()
    padded = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(radius, radius)] * 2, mode='edge')
    return np.einsum('...hwij,ij->...hw', sliding_window_view(padded, window.shape, axis=(-2, -1)), window)


def _msssim_l1_np(x: np.ndarray, y: np.ndarray, alpha: float, sigmas: list[float], c1: float, c2: float) -> float:
    product = 1.0
    for sigma in sigmas:
        mu_x, mu_y = _blur_np(x, sigma), _blur_np(y, sigma)
        var_x, var_y = _blur_np(x * x, sigma) - mu_x**2, _blur_np(y * y, sigma) - mu_y**2
        cov = _blur_np(x * y, sigma) - mu_x * mu_y
        product = product * (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)  # of the last (largest) sigma
    weighted_l1 = _blur_np(np.abs(x - y), sigmas[-1])
    return float(np.mean(alpha * (1 - luminance * product) + (1 - alpha) * weighted_l1))


@pytest.mark.parametrize('options', [{}, {'alpha': 0.3, 'gaussian_sigmas': [1.0, 3.0], 'k': [0.02, 0.05]}])
def test_msssim_l1_equals_the_papers_formula(options):
    pred, target = _pair(size=24)
    loss = build_loss({'type': 'MSSSIML1Loss', **options})
    alpha = options.get('alpha', 0.84)
    sigmas = options.get('gaussian_sigmas', [0.5, 1, 2, 4, 8])
    k1, k2 = options.get('k', [0.01, 0.03])
    expected = _msssim_l1_np(_np(pred), _np(target), alpha, sigmas, k1**2, k2**2)
    assert loss(pred, target).item() == pytest.approx(expected, rel=1e-7)  # the windows are float32


def test_msssim_l1_single_window_is_the_projects_ssim_inside_the_borders():
    pred, target = _pair()
    loss = build_loss({'type': 'MSSSIML1Loss', 'gaussian_sigmas': [1.5]})  # the 11x11 window of SSIM
    interior = loss.ms_ssim_map(pred, target)[..., 5:-5, 5:-5].mean(dim=(1, 2, 3))
    assert torch.allclose(interior, calculate_ssim_pt(pred, target, crop_border=0), rtol=1e-7)


def test_msssim_l1_is_zero_for_identical_images():
    target = _pair(batch=1)[1].float()
    assert build_loss({'type': 'MSSSIML1Loss'})(target, target).item() == pytest.approx(0, abs=1e-6)


# --- LDLLoss ---------------------------------------------------------------------------------------------------


def _ldl_np(output: np.ndarray, target: np.ndarray, ema: np.ndarray, ksize: int) -> float:
    """The authors' artifact map and loss (csjliang/LDL), transcribed."""
    residual = np.abs(target - output).sum(axis=1, keepdims=True)
    residual_ema = np.abs(target - ema).sum(axis=1, keepdims=True)
    image_weight = np.var(residual, axis=(1, 2, 3), ddof=1, keepdims=True)**0.2
    pad = ksize // 2
    padded = np.pad(residual, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode='reflect')
    local = np.var(sliding_window_view(padded, (ksize, ksize), axis=(2, 3)), axis=(-2, -1), ddof=1)
    weight = np.where(residual < residual_ema, 0.0, image_weight * local)
    return float(np.mean(np.abs(weight * output - weight * target)))


@pytest.mark.parametrize('ksize', [7, 3])
def test_ldl_equals_the_authors_artifact_map(ksize):
    output, target = _pair()
    ema, _ = _pair(seed=5)
    ema = 0.5 * (ema + target)  # better than the output in some pixels, worse in others
    loss = build_loss({'type': 'LDLLoss', 'loss_weight': 2.0, 'ksize': ksize})
    expected = 2.0 * _ldl_np(_np(output), _np(target), _np(ema), ksize)
    value = loss(output, target, output_ema=ema)
    assert value.item() == pytest.approx(expected, rel=1e-10)
    assert value > 0


def test_ldl_declares_and_needs_the_ema_output():
    loss = build_loss({'type': 'LDLLoss'})
    assert type(loss).extra_inputs == ('output_ema', )
    output, target = _pair()
    with pytest.raises(TypeError, match='output_ema'):
        loss(output, target)
    # pixels count where the output is no better than the EMA generator's: all of them against a perfect EMA,
    # none against a worse one
    assert loss(output, target, output_ema=target).item() > 0
    assert loss(output, target, output_ema=target + 1).item() == 0


@pytest.mark.parametrize('case', ['identical', 'flat residual'])
def test_ldl_gradient_is_finite_where_the_residual_has_no_variance(case):
    """``var ** (1/5)`` has an infinite slope at 0: the authors' map gives NaN gradients here (traiNNer-redux #292)."""
    _, target = _pair()
    output = (target if case == 'identical' else target + 0.1).clone().requires_grad_()
    build_loss({'type': 'LDLLoss'})(output, target, output_ema=target - 0.2).backward()
    assert torch.isfinite(output.grad).all()


# --- ColorLoss, LumaLoss, HSLuvLoss ----------------------------------------------------------------------------


def _chroma_np(x: np.ndarray, scale: int) -> np.ndarray:
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    cb = (-37.797 * r - 74.203 * g + 112.0 * b + 128) / 255
    cr = (112.0 * r - 93.786 * g - 18.214 * b + 128) / 255
    n, h, w = cb.shape
    blocks = np.stack([cb, cr], axis=1).reshape(n, 2, h // scale, scale, w // scale, scale)
    return blocks.mean(axis=(3, 5))


@pytest.mark.parametrize(('criterion', 'scale'), [('l1', 4), ('l2', 1)])
def test_color_loss_compares_block_means_of_bt601_chroma(criterion, scale):
    pred, target = _pair()
    diff = _chroma_np(_np(pred), scale) - _chroma_np(_np(target), scale)
    expected = np.mean(np.abs(diff)) if criterion == 'l1' else np.mean(diff**2)
    loss = build_loss({'type': 'ColorLoss', 'criterion': criterion, 'scale': scale})
    assert loss(pred, target).item() == pytest.approx(expected, rel=1e-10)


def test_color_loss_ignores_luminance():
    _, target = _pair()
    grey_shift = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64).view(1, 3, 1, 1) * 0.1  # Cb, Cr unchanged
    assert build_loss({'type': 'ColorLoss'})(target + grey_shift, target).item() == pytest.approx(0, abs=1e-12)


def _hsluv_np(x: np.ndarray) -> np.ndarray:
    """HSLuv of an (N, 3, H, W) image by the reference implementation, pixel by pixel: (N, 3, H, W)."""
    pixels = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    converted = np.array([hsluv.rgb_to_hsluv(tuple(p)) for p in pixels])
    return converted.reshape(x.shape[0], x.shape[2], x.shape[3], 3).transpose(0, 3, 1, 2)


SPECIAL_COLOURS = [[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [0.01, 0.01, 0.01], [0.99, 0.99, 0.99], [1, 0, 0],
                   [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [0.02, 0, 0], [1e-4, 0, 2e-4], [0.3, 0.7, 0.2]]


def _with_special_colours(x: torch.Tensor) -> torch.Tensor:
    """``x`` with its first pixels (in row-major order) replaced by :data:`SPECIAL_COLOURS`."""
    x = x.clone()
    x[0].flatten(1)[:, :len(SPECIAL_COLOURS)] = torch.tensor(SPECIAL_COLOURS, dtype=x.dtype).T
    return x


def test_hsluv_conversion_equals_the_reference_implementation():
    image = _with_special_colours(_pair(batch=1, size=16)[1])
    ours, reference = rgb_to_hsluv(image).numpy(), _hsluv_np(_np(image))
    np.testing.assert_allclose(ours[:, 1:], reference[:, 1:], atol=1e-9)  # saturation, lightness
    hue_gap = np.abs(ours[:, 0] - reference[:, 0])
    assert np.minimum(hue_gap, 360 - hue_gap).max() < 1e-9


def test_luma_loss_compares_the_reference_lightness():
    pred, target = _pair(size=8)
    pred = _with_special_colours(pred)
    lightness_diff = (_hsluv_np(_np(pred))[:, 2] - _hsluv_np(_np(target))[:, 2]) / 100
    loss = build_loss({'type': 'LumaLoss', 'criterion': 'l2'})
    assert loss(pred, target).item() == pytest.approx(np.mean(lightness_diff**2), rel=1e-9)


def test_hsluv_loss_equals_its_definition():
    pred, target = _pair(size=8)
    pred, target = _with_special_colours(pred), target.flip(-1)
    pred[1, :, 0, :4] = target[1, :, 0, :4].mean(dim=0)  # grey where the target is coloured
    (hx, sx, lx), (hy, sy, ly) = (_hsluv_np(_np(x)).transpose(1, 0, 2, 3) / np.array([360, 100, 100])[:, None, None,
                                                                                                          None]
                                  for x in (pred, target))
    gap = np.abs(hx - hy)
    hue = 2 * np.minimum(gap, 1 - gap)
    grey_x, grey_y = sx < 0.1, sy < 0.1
    hue = np.where(grey_x != grey_y, np.maximum(sx, sy), hue)
    hue = np.where((grey_x & grey_y) | ((lx < 0.1) & (ly < 0.1)) | ((lx > 0.9) & (ly > 0.9)), 0, hue)
    mid = np.minimum(lx, 1 - lx) + np.minimum(ly, 1 - ly)
    expected = {'hue': 0.5 * hue.mean(), 'saturation': 0.3 * np.mean(np.abs(sx - sy) * mid),
                'lightness': 0.2 * np.mean(np.abs(lx - ly))}
    loss = build_loss({'type': 'HSLuvLoss', 'loss_weight': 2.0, 'hue_weight': 0.25, 'saturation_weight': 0.15,
                       'lightness_weight': 0.1})
    value = loss(pred, target)
    assert set(value) == {'hue', 'saturation', 'lightness'}
    for name, expected_value in expected.items():
        assert value[name].item() == pytest.approx(expected_value, rel=1e-7, abs=1e-12), name
    assert all(v > 0 for v in value.values())


# --- GradientVarianceLoss --------------------------------------------------------------------------------------


def _gradient_variances_np(x: np.ndarray, patch: int) -> tuple[np.ndarray, np.ndarray]:
    grey = 0.2989 * x[:, 0] + 0.5870 * x[:, 1] + 0.1140 * x[:, 2]
    p = np.pad(grey, [(0, 0), (1, 1), (1, 1)])  # zeros
    gx = (p[:, :-2, 2:] + 2 * p[:, 1:-1, 2:] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, 1:-1, :-2] + p[:, 2:, :-2])
    gy = (p[:, 2:, :-2] + 2 * p[:, 2:, 1:-1] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, :-2, 1:-1] + p[:, :-2, 2:])

    def patch_variances(g: np.ndarray) -> np.ndarray:
        n, h, w = g.shape
        g = g[:, :h // patch * patch, :w // patch * patch].reshape(n, h // patch, patch, w // patch, patch)
        return g.var(axis=(2, 4), ddof=1)

    return patch_variances(gx), patch_variances(gy)


@pytest.mark.parametrize(('criterion', 'patch_size', 'size'), [('charbonnier', 16, 32), ('l2', 8, 28)])
def test_gradient_variance_loss_equals_the_papers_formula(criterion, patch_size, size):
    pred, target = _pair(size=size)
    (px, py), (tx, ty) = (_gradient_variances_np(_np(x), patch_size) for x in (pred, target))
    if criterion == 'charbonnier':
        expected = sum(np.mean(np.sqrt((a - b)**2 + 1e-12)) for a, b in ((px, tx), (py, ty)))
    else:
        expected = sum(np.mean((a - b)**2) for a, b in ((px, tx), (py, ty)))
    loss = build_loss({'type': 'GradientVarianceLoss', 'criterion': criterion, 'patch_size': patch_size})
    assert loss(pred, target).item() == pytest.approx(expected, rel=1e-10)


def test_gradient_variance_loss_refuses_images_smaller_than_a_patch():
    pred, target = _pair(size=12)
    with pytest.raises(DataError, match='patch_size 16'):
        build_loss({'type': 'GradientVarianceLoss'})(pred, target)


# --- gradients -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('name', [n for n in OPTIONS if n != 'FocalFrequencyLoss'])
def test_gradient_matches_finite_differences(name):
    """FocalFrequencyLoss is left out: its spectrum weights are constants by design (no gradient through them)."""
    options = {'GradientVarianceLoss': {'patch_size': 4}, 'HSLuvLoss': {'criterion': 'charbonnier'}}.get(name, {})
    loss = build_loss({'type': name, **options})
    pred, target = _pair(seed=3, size=8, batch=1)
    pred = pred.clamp(0.02, 0.98).requires_grad_()  # off HSLuv's clamp to [0, 1], where the slope is one-sided
    ema = 0.5 * (pred.detach() + _pair(seed=4, size=8, batch=1)[1])
    assert torch.autograd.gradcheck(lambda x: _total(_call(loss, x, target, ema)), (pred, ), eps=1e-7, atol=1e-6,
                                     fast_mode=True)


def _degenerate_images() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    _, target = _pair(seed=6, size=16)
    flat = torch.full_like(target, 0.5)
    return {
        'identical': (target.clone(), target),
        'black vs white': (torch.zeros_like(target), torch.ones_like(target)),
        'grey vs grey': (flat, flat + 0.1),
        'special colours': (_with_special_colours(target), target.flip(-1)),
        'out of range': (target * 1.4 - 0.2, target),
    }


@pytest.mark.parametrize('name', OPTIONS)
def test_gradient_is_finite_on_degenerate_images(name):
    loss = build_loss({'type': name})
    for case, (pred, target) in _degenerate_images().items():
        pred = pred.float().requires_grad_()
        value = _total(_call(loss, pred, target.float(), ema=target.float()))
        value.backward()
        assert torch.isfinite(value), (name, case)
        assert torch.isfinite(pred.grad).all(), (name, case)


@pytest.mark.parametrize('name', OPTIONS)
def test_gradient_is_finite_and_nonzero(name):
    loss = build_loss({'type': name})
    pred, target = (x.float() for x in _pair(seed=7))
    pred.requires_grad_()
    _total(_call(loss, pred, target, ema=target + 0.05)).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


@pytest.mark.parametrize('name', OPTIONS)
def test_runs_in_float32_under_autocast(name):
    """Under bf16 autocast (as in the training step), on bf16 images, each loss computes in float32: the value is
    that of the same images in float32 without autocast."""
    loss = build_loss({'type': name})
    pred, target, ema = (x.bfloat16() for x in (*_pair(seed=8), _pair(seed=9)[1]))
    expected = _total(_call(loss, pred.float(), target.float(), ema=ema.float()))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = _total(_call(loss, pred, target, ema=ema))
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
