"""PSNR / SSIM: numpy reference vs torch fast path, closed-form values, and the bicubic baseline pipeline."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from basicsr.metrics.metric_util import reorder_image, to_y_channel
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_psnr_pt, calculate_ssim, calculate_ssim_pt
from basicsr.utils.img_util import tensor2img
from basicsr.utils.registry import METRIC_REGISTRY

from conftest import synthetic_image
from test_matlab_functions import matlab_imresize_reference

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'scripts'))
import bicubic_baseline  # noqa: E402

C1, C2 = (0.01 * 255)**2, (0.03 * 255)**2


def _noisy_pair(seed: int, sigma: float, size: tuple[int, int] = (40, 52)) -> tuple[np.ndarray, np.ndarray]:
    img = synthetic_image(seed, *size)
    noise = np.random.default_rng(seed + 1000).normal(0, sigma, img.shape)
    return img, np.clip(img + noise, 0, 255).round().astype(np.uint8)


def _tensor(img: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """uint8 BGR HWC -> (1, 3, H, W) RGB tensor of img / 255."""
    return torch.from_numpy(img[..., ::-1].transpose(2, 0, 1) / 255.).unsqueeze(0).to(dtype)


# ---- independent references: direct formulas, no OpenCV ----

def _y(img: np.ndarray) -> np.ndarray:
    """Y of BT.601 on the 0-255 scale, float64, from a uint8 BGR image."""
    b, g, r = (img[..., i].astype(np.float64) for i in range(3))
    return 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255


def _psnr_ref(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(255**2 / np.mean((a.astype(np.float64) - b.astype(np.float64))**2))


def _ssim_ref(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two 2-D images: 11x11 Gaussian (sigma 1.5) weighted sums over 121 shifts, valid region."""
    g = np.exp(-(np.arange(11) - 5)**2 / (2 * 1.5**2))
    window = np.outer(g, g) / g.sum()**2
    h, w = a.shape[0] - 10, a.shape[1] - 10

    def filt(x: np.ndarray) -> np.ndarray:
        return sum(window[i, j] * x[i:i + h, j:j + w] for i in range(11) for j in range(11))

    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b, cov = filt(a * a) - mu_a**2, filt(b * b) - mu_b**2, filt(a * b) - mu_a * mu_b
    ssim_map = (2 * mu_a * mu_b + C1) * (2 * cov + C2) / ((mu_a**2 + mu_b**2 + C1) * (var_a + var_b + C2))
    return float(ssim_map.mean())


# ---- numpy reference vs torch fast path ----

@pytest.mark.parametrize('sigma', [1, 5, 20])
@pytest.mark.parametrize('test_y_channel', [False, True])
@pytest.mark.parametrize('crop_border', [0, 4])
def test_numpy_and_torch_agree(sigma: float, test_y_channel: bool, crop_border: int) -> None:
    pairs = [_noisy_pair(seed, sigma) for seed in (1, 2)]
    img, img2 = torch.cat([_tensor(a) for a, _ in pairs]), torch.cat([_tensor(b) for _, b in pairs])
    psnr_pt = calculate_psnr_pt(img, img2, crop_border, test_y_channel=test_y_channel)
    assert torch.equal(img, torch.cat([_tensor(a) for a, _ in pairs]))  # the inputs are left as they were
    assert torch.equal(img2, torch.cat([_tensor(b) for _, b in pairs]))
    ssim_pt = calculate_ssim_pt(torch.cat([_tensor(a) for a, _ in pairs]), torch.cat([_tensor(b) for _, b in pairs]),
                                crop_border, test_y_channel=test_y_channel)
    assert psnr_pt.shape == ssim_pt.shape == (2, ) and psnr_pt.dtype == ssim_pt.dtype == torch.float64
    for i, (a, b) in enumerate(pairs):
        kwargs = dict(crop_border=crop_border, test_y_channel=test_y_channel)
        assert psnr_pt[i].item() == pytest.approx(calculate_psnr(a, b, **kwargs), rel=1e-6)
        assert ssim_pt[i].item() == pytest.approx(calculate_ssim(a, b, **kwargs), rel=1e-6)
    assert psnr_pt[0] != psnr_pt[1]  # each image gets its own value


@pytest.mark.parametrize('test_y_channel', [False, True])
def test_float32_tensors_agree_too(test_y_channel: bool) -> None:
    a, b = _noisy_pair(3, 2)
    kwargs = dict(crop_border=2, test_y_channel=test_y_channel)
    psnr = calculate_psnr_pt(_tensor(a, torch.float32), _tensor(b, torch.float32), **kwargs).item()
    ssim = calculate_ssim_pt(_tensor(a, torch.float32), _tensor(b, torch.float32), **kwargs).item()
    assert psnr == pytest.approx(calculate_psnr(a, b, **kwargs), rel=1e-6)
    assert ssim == pytest.approx(calculate_ssim(a, b, **kwargs), rel=1e-6)


def test_ssim_blocks_of_rows_give_the_whole_image_value(monkeypatch: pytest.MonkeyPatch) -> None:
    import basicsr.metrics.psnr_ssim as psnr_ssim
    a, b = _noisy_pair(4, 10, size=(70, 30))
    whole = calculate_ssim_pt(_tensor(a), _tensor(b), 0).item()
    monkeypatch.setattr(psnr_ssim, '_CPU_BLOCK_BYTES', 1)  # 8 rows a block, last block shorter
    assert calculate_ssim_pt(_tensor(a), _tensor(b), 0).item() == pytest.approx(whole, rel=1e-12)


def test_identical_images() -> None:
    img = synthetic_image(5, 32, 32)
    for y in (False, True):
        assert calculate_psnr(img, img, 0, test_y_channel=y) == math.inf
        assert calculate_ssim(img, img, 0, test_y_channel=y) == pytest.approx(1, abs=1e-12)
        assert calculate_psnr_pt(_tensor(img), _tensor(img), 0, test_y_channel=y).item() == math.inf
        assert calculate_ssim_pt(_tensor(img), _tensor(img), 0, test_y_channel=y).item() == pytest.approx(1, abs=1e-12)


# ---- closed-form values ----

def test_psnr_of_a_uniform_shift() -> None:
    img = np.random.default_rng(6).integers(20, 230, (24, 30, 3), dtype=np.uint8)
    shifted = img + np.uint8(3)
    expected_rgb = 10 * math.log10(255**2 / 9)
    expected_y = 10 * math.log10(255**2 / (3 * 219 / 255)**2)  # Y weights sum to 219 / 255
    assert calculate_psnr(img, shifted, 0) == pytest.approx(expected_rgb, rel=1e-12)
    assert calculate_psnr(img, shifted, 0, test_y_channel=True) == pytest.approx(expected_y, rel=1e-6)
    assert calculate_psnr_pt(_tensor(img), _tensor(shifted), 0).item() == pytest.approx(expected_rgb, rel=1e-12)
    assert calculate_psnr_pt(_tensor(img), _tensor(shifted), 0, test_y_channel=True).item() == pytest.approx(
        expected_y, rel=1e-12)


def test_psnr_of_sparse_changes_and_crop_border() -> None:
    img = np.full((20, 20, 3), 100, np.uint8)
    changed = img.copy()
    changed[10, 10, 0] = 110  # inside: squared error 100
    changed[1, 1, 2] = 50  # in the 2-pixel border
    assert calculate_psnr(img, changed, 0) == pytest.approx(10 * math.log10(255**2 / ((100 + 2500) / 1200)))
    assert calculate_psnr(img, changed, 2) == pytest.approx(10 * math.log10(255**2 / (100 / (16 * 16 * 3))))
    changed[10, 10, 0] = 100
    assert calculate_psnr(img, changed, 2) == math.inf
    assert calculate_psnr_pt(_tensor(img), _tensor(changed), 2).item() == math.inf


@pytest.mark.parametrize('a, b', [(100, 110), (30, 200), (0, 255)])
def test_ssim_of_constant_images(a: int, b: int) -> None:
    # Flat images have no variance, so SSIM is the luminance term alone.
    img, img2 = np.full((16, 18, 3), a, np.uint8), np.full((16, 18, 3), b, np.uint8)
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    assert calculate_ssim(img, img2, 1) == pytest.approx(expected, rel=1e-9)
    assert calculate_ssim_pt(_tensor(img), _tensor(img2), 1).item() == pytest.approx(expected, rel=1e-9)
    ya, yb = 16 + 219 * a / 255, 16 + 219 * b / 255
    expected_y = (2 * ya * yb + C1) / (ya * ya + yb * yb + C1)
    assert calculate_ssim(img, img2, 1, test_y_channel=True) == pytest.approx(expected_y, rel=1e-6)
    assert calculate_ssim_pt(_tensor(img), _tensor(img2), 1, test_y_channel=True).item() == pytest.approx(
        expected_y, rel=1e-9)


@pytest.mark.parametrize('test_y_channel', [False, True])
def test_against_direct_formulas(test_y_channel: bool) -> None:
    a, b = _noisy_pair(7, 8, size=(30, 36))
    crop = 3
    ca, cb = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    if test_y_channel:
        ca, cb = _y(ca)[..., None], _y(cb)[..., None]
    expected_ssim = np.mean([_ssim_ref(ca[..., c], cb[..., c]) for c in range(ca.shape[2])])
    assert calculate_psnr(a, b, crop, test_y_channel=test_y_channel) == pytest.approx(_psnr_ref(ca, cb), rel=1e-6)
    assert calculate_ssim(a, b, crop, test_y_channel=test_y_channel) == pytest.approx(expected_ssim, rel=1e-6)


def test_input_order_and_helpers() -> None:
    a, b = _noisy_pair(8, 5, size=(20, 24))
    chw = dict(input_order='CHW', crop_border=2)
    assert calculate_psnr(a.transpose(2, 0, 1), b.transpose(2, 0, 1), **chw) == calculate_psnr(a, b, 2)
    assert calculate_ssim(a.transpose(2, 0, 1), b.transpose(2, 0, 1), **chw) == calculate_ssim(a, b, 2)
    assert reorder_image(a[..., 0]).shape == (20, 24, 1)
    y = to_y_channel(a)
    assert y.shape == (20, 24, 1)
    np.testing.assert_allclose(y[..., 0], _y(a), rtol=0, atol=1e-4)  # float32 Y, not rounded
    assert not np.all(y == np.round(y))
    with pytest.raises(ValueError, match='input_order'):
        calculate_psnr(a, b, 0, input_order='NHWC')


def test_bad_inputs() -> None:
    a, b = _noisy_pair(9, 5, size=(20, 24))
    with pytest.raises(ValueError, match='same shape'):
        calculate_psnr(a, b[:-1], 0)
    with pytest.raises(ValueError, match='leaves no pixels'):
        calculate_psnr(a, b, 10)
    with pytest.raises(ValueError, match='leaves no pixels'):
        calculate_psnr_pt(_tensor(a), _tensor(b), 10)
    with pytest.warns(RuntimeWarning, match='at least 11x11'):
        assert math.isnan(calculate_ssim(a, b, 5))  # as BasicSR: undefined, not an error
    with pytest.warns(RuntimeWarning, match='at least 11x11'):
        assert torch.isnan(calculate_ssim_pt(_tensor(a), _tensor(b), 5)).all()
    with pytest.raises(ValueError, match='NCHW'):
        calculate_psnr_pt(_tensor(a)[0], _tensor(b)[0], 0)
    with pytest.raises(TypeError, match='floating-point'):
        calculate_psnr_pt(torch.zeros(1, 3, 16, 16, dtype=torch.uint8), torch.zeros(1, 3, 16, 16, dtype=torch.uint8), 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu() -> None:
    a, b = _noisy_pair(10, 5, size=(64, 48))
    for fn in (calculate_psnr_pt, calculate_ssim_pt):
        for y in (False, True):
            on_gpu = fn(_tensor(a, torch.float32).cuda(), _tensor(b, torch.float32).cuda(), 4, test_y_channel=y)
            assert on_gpu.device.type == 'cuda'
            on_cpu = fn(_tensor(a, torch.float32), _tensor(b, torch.float32), 4, test_y_channel=y)
            assert on_gpu.item() == pytest.approx(on_cpu.item(), rel=1e-9)


def test_registered() -> None:
    for name in ('calculate_psnr', 'calculate_ssim', 'calculate_psnr_pt', 'calculate_ssim_pt'):
        assert name in METRIC_REGISTRY


# ---- the bicubic baseline, against a pipeline built from the slow references ----

@pytest.mark.parametrize('scale', [2, 3, 4])
def test_bicubic_baseline_on_generated_images(scale: int) -> None:
    for seed in (11, 12, 13):
        hr = synthetic_image(seed, 38, 47)  # not a multiple of any scale: mod-crop matters
        cropped = hr[:38 - 38 % scale, :47 - 47 % scale]
        lr = matlab_imresize_reference(cropped / 255., 1 / scale)  # LR stays in float
        sr = tensor2img(torch.from_numpy(matlab_imresize_reference(lr, scale).transpose(2, 0, 1)), rgb2bgr=False)
        y_sr, y_hr = (_y(x)[scale:-scale, scale:-scale] for x in (sr, cropped))
        psnr, ssim = bicubic_baseline.bicubic_metrics(hr, scale)
        assert psnr == pytest.approx(_psnr_ref(y_sr, y_hr), rel=1e-6)
        assert ssim == pytest.approx(_ssim_ref(y_sr, y_hr), rel=1e-6)
