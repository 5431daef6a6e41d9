"""The degradation library: blur kernels, noise, DiffJPEG, filtering, the batched pipelines and SRVGGNetCompact."""
import math
import random

import cv2
import numpy as np
import pytest
import torch

from basicsr.archs import build_network
from basicsr.data import degradations as deg
from basicsr.data.degradation_pipeline import BSRGANDegradation, RealESRGANDegradation, build_degradation
from basicsr.data.demo_data import _load_skimage
from basicsr.utils import DiffJPEG, USMSharp
from basicsr.utils.errors import OptionError
from basicsr.utils.img_process_util import filter2D, usm_sharp

SHAPE_ARGS = dict(sigma_x_range=(0.2, 3), sigma_y_range=(0.2, 3), rotation_range=(-math.pi, math.pi),
                  betag_range=(0.5, 4), betap_range=(1, 2))


# ------------------------------------------------------------------------------------------------ kernels
@pytest.mark.parametrize('kernel_type', deg.KERNEL_TYPES)
@pytest.mark.parametrize('size', [7, 13, 21])
def test_random_kernels_sum_to_one_at_the_requested_size(kernel_type: str, size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(5):
        kernel, params = deg.draw_mixed_kernel([kernel_type], [1], size, rng=rng, **SHAPE_ARGS)
        assert kernel.shape == (size, size) and params['type'] == kernel_type
        assert kernel.sum() == pytest.approx(1.0, abs=1e-9)
        assert kernel.min() >= 0
        if kernel_type.endswith('_iso') or kernel_type == 'iso':  # symmetric about both axes and the diagonal
            np.testing.assert_allclose(kernel, kernel.T, atol=1e-12)
            np.testing.assert_allclose(kernel, kernel[::-1], atol=1e-12)
            np.testing.assert_allclose(kernel, kernel[:, ::-1], atol=1e-12)


def test_kernel_sizes_must_be_odd() -> None:
    with pytest.raises(ValueError, match='odd'):
        deg.random_mixed_kernels(['iso'], [1], 20, rng=np.random.default_rng(0), **SHAPE_ARGS)
    with pytest.raises(ValueError, match='odd'):
        deg.circular_lowpass_kernel(1.0, 8)


def test_anisotropic_kernel_follows_its_covariance() -> None:
    """The second moments of a wide kernel are those of its covariance (rotation and sigmas used as defined)."""
    sig_x, sig_y, theta = 2.0, 1.0, 0.6
    kernel = deg.bivariate_Gaussian(41, sig_x, sig_y, theta, isotropic=False)
    xy, _, _ = deg.mesh_grid(41)
    moments = np.einsum('ij,ijk,ijl->kl', kernel, xy, xy)
    np.testing.assert_allclose(moments, deg.sigma_matrix2(sig_x, sig_y, theta), atol=1e-3)


@pytest.mark.parametrize('cutoff', [math.pi / 3, math.pi / 2, 2 * math.pi / 3])
def test_sinc_kernel_spectrum_cuts_off_at_the_requested_frequency(cutoff: float) -> None:
    kernel = deg.circular_lowpass_kernel(cutoff, 21, pad_to=25)
    assert kernel.shape == (25, 25) and kernel.sum() == pytest.approx(1.0)
    n = 512
    spectrum = np.abs(np.fft.fft2(kernel, (n, n)))
    freq = np.fft.fftfreq(n) * 2 * np.pi
    radius = np.hypot(*np.meshgrid(freq, freq, indexing='ij'))
    # a 21-tap truncation smears the edge over about 2 pi / 21 ~ 0.3 rad
    assert spectrum[radius < cutoff - 0.4].min() > 0.8
    assert spectrum[(radius > cutoff + 0.4) & (radius <= math.pi)].max() < 0.1
    edges = np.linspace(0, math.pi, 64)
    which = np.digitize(radius, edges)
    profile = np.array([spectrum[which == i].mean() for i in range(1, len(edges))])
    half_amplitude_at = ((edges[1:] + edges[:-1]) / 2)[np.argmax(profile < 0.5)]
    assert abs(half_amplitude_at - cutoff) < 0.1


def test_generalized_gaussian_with_beta_one_is_the_gaussian() -> None:
    """Real-ESRGAN's generalized Gaussian raises the squared distance x^T S^-1 x to beta: beta = 1 is the Gaussian
    (the distance itself to the power 2 beta = 2)."""
    for isotropic in (True, False):
        gaussian = deg.bivariate_Gaussian(21, 2.5, 1.2, 0.7, isotropic=isotropic)
        generalized = deg.bivariate_generalized_Gaussian(21, 2.5, 1.2, 0.7, 1.0, isotropic=isotropic)
        np.testing.assert_allclose(generalized, gaussian, rtol=1e-12)
    flatter = deg.bivariate_generalized_Gaussian(21, 2.5, 2.5, 0, 2.0)
    gaussian = deg.bivariate_Gaussian(21, 2.5, 2.5, 0)
    assert flatter[10, 11] / flatter[10, 10] > gaussian[10, 11] / gaussian[10, 10]  # beta > 1: a flatter top


def test_plateau_approaches_the_gaussian_where_the_quadratic_form_is_small() -> None:
    """The plateau 1 / (1 + q^beta) equals no Gaussian exactly; the limit tested: beta = 1 and q = x^T S^-1 x << 1
    (sigma large against the kernel), where 1 / (1 + q) = exp(-q) + O(q^2), the Gaussian of sigma / sqrt(2). The
    deviation relative to the kernel's own variation shrinks like q, i.e. 1 / sigma^2."""

    def deviation(sigma: float) -> float:
        plateau = deg.bivariate_plateau(21, sigma, sigma, 0, 1.0)
        gaussian = deg.bivariate_Gaussian(21, sigma / math.sqrt(2), 0, 0)
        return np.abs(plateau - gaussian).max() / np.abs(gaussian - gaussian.mean()).max()

    assert deviation(40) < 0.1
    assert deviation(80) < 0.03 and deviation(80) < deviation(40) / 3


def test_numpy_draws_use_the_global_generators_unless_given_one() -> None:
    def draw() -> np.ndarray:
        return deg.random_mixed_kernels(list(deg.KERNEL_TYPES), [1] * 6, 21, **SHAPE_ARGS)

    np.random.seed(3)
    random.seed(3)
    first = draw()
    np.random.seed(3)
    random.seed(3)
    np.testing.assert_array_equal(draw(), first)  # BasicSR's behaviour: the global state decides
    state = np.random.get_state()[1].copy()
    a = deg.random_mixed_kernels(['aniso'], [1], 21, rng=np.random.default_rng(7), **SHAPE_ARGS)
    b = deg.random_mixed_kernels(['aniso'], [1], 21, rng=np.random.default_rng(7), **SHAPE_ARGS)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the global generator was not used


# ------------------------------------------------------------------------------------------------ noise
def test_gaussian_noise_standard_deviation_is_sigma() -> None:
    flat = torch.full((2, 3, 96, 96), 0.5)
    sigma = torch.tensor([10.0, 20.0])
    noise = deg.add_gaussian_noise_pt(flat, sigma, clip=False, generator=torch.Generator().manual_seed(0)) - flat
    np.testing.assert_allclose(noise.std(dim=(1, 2, 3)).numpy(), sigma.numpy() / 255., rtol=0.05)
    img = np.full((96, 96, 3), 0.5, np.float32)
    noisy = deg.add_gaussian_noise(img, 15, clip=False, rng=np.random.default_rng(0))
    assert np.std(noisy - img) == pytest.approx(15 / 255., rel=0.05)


def _levels_image() -> tuple[torch.Tensor, list[tuple[float, slice]]]:
    """Three flat 64-row bands of known intensities plus one row holding all 256 levels, so that the photon count
    per unit intensity is 256 (one per 8-bit level)."""
    img = torch.zeros(1, 3, 3 * 64 + 1, 256)
    bands = []
    for i, level in enumerate((32, 128, 224)):
        img[..., i * 64:(i + 1) * 64, :] = level / 255.
        bands.append((level / 255., slice(i * 64, (i + 1) * 64)))
    img[..., -1, :] = torch.arange(256) / 255.
    return img, bands


def test_poisson_noise_variance_scales_with_intensity() -> None:
    """Noise = scale * (Poisson(I * vals) / vals - I), so its variance is scale^2 * I / vals (vals = 256 here)."""
    img, bands = _levels_image()
    scale = 2.0
    noise = deg.generate_poisson_noise_pt(img, scale, generator=torch.Generator().manual_seed(0))
    noise_np = deg.generate_poisson_noise(img[0].permute(1, 2, 0).numpy(), scale, rng=np.random.default_rng(0))
    for intensity, rows in bands:
        expected = scale**2 * intensity / 256
        assert noise[..., rows, :].var().item() == pytest.approx(expected, rel=0.1)
        assert noise_np[rows].var() == pytest.approx(expected, rel=0.1)


def test_grey_noise_is_equal_across_channels() -> None:
    img = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(2)
    gaussian = deg.random_generate_gaussian_noise_pt(img, (5, 20), gray_prob=1, generator=generator)
    poisson = deg.random_generate_poisson_noise_pt(img, (1, 2), gray_prob=1, generator=generator)
    for noise in (gaussian, poisson):
        assert noise.abs().sum() > 0
        assert torch.equal(noise[:, 0], noise[:, 1]) and torch.equal(noise[:, 1], noise[:, 2])
    colour = deg.random_generate_gaussian_noise_pt(img, (5, 20), gray_prob=0, generator=generator)
    assert not torch.equal(colour[:, 0], colour[:, 1])
    img_np = img[0].permute(1, 2, 0).numpy()
    noise_np = deg.random_generate_gaussian_noise(img_np, (5, 20), gray_prob=1, rng=np.random.default_rng(0))
    assert np.array_equal(noise_np[..., 0], noise_np[..., 2])


def test_noise_draws_are_per_sample_and_reproducible() -> None:
    img = torch.full((4, 3, 16, 16), 0.5)
    a = deg.random_add_gaussian_noise_pt(img, (1, 30), 0.5, generator=torch.Generator().manual_seed(5))
    b = deg.random_add_gaussian_noise_pt(img, (1, 30), 0.5, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    stds = (a - img).std(dim=(1, 2, 3))
    assert stds.max() > 1.5 * stds.min()  # sigmas differ between samples


# ------------------------------------------------------------------------------------------------ JPEG
def _photo(name: str, size: tuple[int, int]) -> np.ndarray:
    """A crop of a scikit-image photograph (uint8 BGR); odd sizes exercise the padding to macroblocks."""
    return np.ascontiguousarray(_load_skimage(name)[:size[0], :size[1]])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(255.**2 / np.mean((a.astype(np.float64) - b.astype(np.float64))**2))


@pytest.mark.parametrize('name', ['astronaut', 'coffee'])
def test_diffjpeg_matches_opencv(name: str) -> None:
    img = _photo(name, (203, 250))
    qualities = [30, 50, 75, 95]
    batch = torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1).float().div(255).expand(4, -1, -1, -1)
    out = DiffJPEG(differentiable=False)(batch, torch.tensor(qualities, dtype=torch.float32))
    for i, quality in enumerate(qualities):
        _, encoded = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        reference = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
        ours = (out[i].permute(1, 2, 0).numpy() * 255).round()
        assert _psnr(ours, reference) > 33, quality
        assert _psnr(ours, img[..., ::-1]) < _psnr(ours, reference)  # closer to OpenCV's JPEG than to the input
    assert deg.add_jpg_compression(img.astype(np.float32) / 255., 50).shape == img.shape


def test_diffjpeg_differentiable_mode_passes_gradients() -> None:
    photo = _photo('astronaut', (164, 264))[100:, 200:, ::-1].copy()
    x = torch.from_numpy(photo).permute(2, 0, 1).float().div(255).repeat(2, 1, 1, 1).requires_grad_()
    y = DiffJPEG(differentiable=True)(x, torch.tensor([40.0, 80.0]))
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    hard = DiffJPEG(differentiable=False)(x.detach(), torch.tensor([40.0, 80.0]))
    # the same compression up to the soft rounding: much closer to the exact JPEG than the JPEG is to its input
    assert (y.detach() - hard).abs().mean() < 0.25 * (hard - x.detach()).abs().mean()


def test_diffjpeg_quality_tables_are_libjpegs() -> None:
    from basicsr.utils.diffjpeg import LUMA_TABLE, quantization_tables
    base = torch.tensor(LUMA_TABLE, dtype=torch.float32)
    tables = quantization_tables(base, torch.tensor([50.0, 100.0, 10.0]))
    assert torch.equal(tables[0], base)  # quality 50: the standard table
    assert torch.equal(tables[1], torch.ones(8, 8))  # quality 100: all ones
    assert tables[2].max() == 255  # quality 10 saturates at the baseline limit


# ------------------------------------------------------------------------------------------------ filtering
def test_filter2d_per_sample_kernels() -> None:
    img = torch.rand(3, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    kernels = torch.stack([torch.from_numpy(deg.bivariate_Gaussian(7, s, s, 0)).float() for s in (0.5, 1, 2)])
    out = filter2D(img, kernels)
    for i in range(3):
        torch.testing.assert_close(out[i:i + 1], filter2D(img[i:i + 1], kernels[i]))
        reference = cv2.filter2D(img[i].permute(1, 2, 0).numpy(), -1, kernels[i].numpy(),
                                 borderType=cv2.BORDER_REFLECT_101)
        np.testing.assert_allclose(out[i].permute(1, 2, 0).numpy(), reference, atol=1e-5)
    pulse = torch.zeros(1, 21, 21)
    pulse[0, 10, 10] = 1
    torch.testing.assert_close(filter2D(img[:, :, :8, :8], pulse), img[:, :, :8, :8])  # smaller than the kernel


def test_usm_sharp_module_matches_numpy() -> None:
    img = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    sharpener = USMSharp()
    assert sharpener.kernel.shape == (1, 51, 51)
    ours = sharpener(img)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, usm_sharp(img[0].permute(1, 2, 0).numpy()), atol=1e-5)
    assert not np.allclose(ours, img[0].permute(1, 2, 0).numpy())


# ------------------------------------------------------------------------------------------------ pipelines
def _kernels(batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)

    def stack(make) -> torch.Tensor:
        return torch.from_numpy(np.stack([make() for _ in range(batch)])).float()

    return {'kernel1': stack(lambda: deg.random_mixed_kernels(list(deg.KERNEL_TYPES), [1] * 6, 21, rng=rng,
                                                              **SHAPE_ARGS)),
            'kernel2': stack(lambda: deg.random_mixed_kernels(['iso'], [1], 21, rng=rng, **SHAPE_ARGS)),
            'sinc_kernel': stack(lambda: deg.circular_lowpass_kernel(rng.uniform(1, 3), 21))}


def _gt(batch: int = 3, size: int = 64) -> torch.Tensor:
    img = _photo('astronaut', (size * batch, size))[..., ::-1].copy()
    return torch.from_numpy(img).permute(2, 0, 1).float().div(255).reshape(3, batch, size, size).transpose(0, 1)


@pytest.mark.parametrize('pipeline', [RealESRGANDegradation(), BSRGANDegradation(scale2_prob=0.5)])
def test_pipelines_same_seed_same_output(pipeline: torch.nn.Module) -> None:
    gt, kernels = _gt(), _kernels(3)
    outputs = []
    for seed in (0, 0, 1):
        log: dict = {}
        outputs.append(pipeline(gt, torch.Generator().manual_seed(seed), kernels, log))
        assert log
    assert outputs[0].shape == (3, 3, 16, 16)
    assert torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[0], outputs[2])
    assert torch.equal(outputs[0], torch.round(outputs[0] * 255) / 255)  # on the 8-bit grid
    assert 0 <= outputs[0].min() and outputs[0].max() <= 1


def test_pipelines_vary_their_steps_across_seeds() -> None:
    gt, kernels = _gt(2, 32), _kernels(2)
    orders, modes = set(), set()
    for seed in range(12):
        log: dict = {}
        BSRGANDegradation()(gt, torch.Generator().manual_seed(seed), None, log)
        orders.add(tuple(log['order']['steps']))
        assert log['order']['steps'].index('downsample') < log['order']['steps'].index('resize_to_lq')
        log = {}
        RealESRGANDegradation()(gt, torch.Generator().manual_seed(seed), kernels, log)
        modes.add(log['resize1']['mode'])
        assert len(log['jpeg1']['per_sample']['quality']) == 2
    assert len(orders) > 6 and modes == {'area', 'bilinear', 'bicubic'}


def test_realesrgan_pipeline_needs_kernels() -> None:
    with pytest.raises(ValueError, match='kernel'):
        RealESRGANDegradation()(_gt(1, 32), torch.Generator(), {'kernel1': torch.zeros(1, 21, 21)})


def test_build_degradation_reads_option_keys() -> None:
    pipeline = build_degradation('realesrgan', {'scale': 2, 'second_blur_prob': 0.0, 'name': 'x', 'gt_size': 64})
    assert pipeline.scale == 2 and pipeline.second_blur_prob == 0.0
    pipeline = build_degradation('bsrgan', {'scale': 4, 'noise_range': [1, 30], 'bsrgan': {'isp_prob': 1.0}})
    assert pipeline.isp_prob == 1.0 and list(pipeline.noise_range) == [2, 25]  # its own section only
    with pytest.raises(OptionError, match='unknown pipeline'):
        build_degradation('kair', {})
    with pytest.raises(OptionError, match='jpeg_prob'):
        build_degradation('bsrgan', {'bsrgan': {'jpeg_prob': 'often'}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('pipeline_cls', [RealESRGANDegradation, BSRGANDegradation])
def test_pipelines_on_cuda(pipeline_cls: type) -> None:
    """The same code on the GPU, with a generator there: the same seed gives the same batch."""
    gt, kernels = _gt().cuda(), {k: v.cuda() for k, v in _kernels(3).items()}
    pipeline = pipeline_cls().cuda()
    a, b, c = (pipeline(gt, torch.Generator('cuda').manual_seed(seed), kernels) for seed in (0, 0, 1))
    assert a.is_cuda and a.shape == (3, 3, 16, 16)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a, torch.round(a * 255) / 255)
    # a CPU generator may drive GPU tensors too (its numbers are drawn on the CPU and moved)
    d, e = (pipeline(gt, torch.Generator().manual_seed(2), kernels) for _ in range(2))
    assert d.is_cuda and torch.equal(d, e)


# ------------------------------------------------------------------------------------------------ networks
def test_srvgg_compact_parameter_count_and_keys() -> None:
    """realesr-general-x4v3: 64 features, 32 body convolutions, x4, PReLU."""
    net = build_network({'type': 'SRVGGNetCompact', 'num_feat': 64, 'num_conv': 32, 'upscale': 4})
    conv = 64 * 64 * 9 + 64
    expected = (3 * 64 * 9 + 64) + 64 + 32 * (conv + 64) + (64 * 3 * 16 * 9 + 3 * 16)
    assert sum(p.numel() for p in net.parameters()) == expected == 1_213_296
    keys = set(net.state_dict())
    assert {'body.0.weight', 'body.1.weight', 'body.64.weight', 'body.66.weight', 'body.66.bias'} <= keys
    small = build_network({'type': 'SRVGGNetCompact', 'num_feat': 8, 'num_conv': 2, 'upscale': 2,
                           'act_type': 'leakyrelu'})
    x = torch.rand(1, 3, 12, 10)
    assert small(x).shape == (1, 3, 24, 20)
    torch.nn.init.zeros_(small.body[-1].weight)  # a zero last convolution: the output is the upscaled input
    torch.nn.init.zeros_(small.body[-1].bias)
    torch.testing.assert_close(small(x), torch.nn.functional.interpolate(x, scale_factor=2, mode='nearest'))


def test_unet_discriminator_parameter_count() -> None:
    f = 64
    convs = [(3, f, 3, True), (f, 2 * f, 4, False), (2 * f, 4 * f, 4, False), (4 * f, 8 * f, 4, False),
             (8 * f, 4 * f, 3, False), (4 * f, 2 * f, 3, False), (2 * f, f, 3, False), (f, f, 3, False),
             (f, f, 3, False), (f, 1, 3, True)]
    expected = sum(cin * cout * k * k + (cout if bias else 0) for cin, cout, k, bias in convs)
    net = build_network({'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': f, 'skip_connection': True})
    assert sum(p.numel() for p in net.parameters()) == expected
    assert 'conv1.weight_orig' in net.state_dict()
