"""Synthetic degradations of Real-ESRGAN (Wang et al. 2021, arXiv 2107.10833) under BasicSR's names and signatures.

* Blur kernels (numpy, drawn per sample on the data workers): isotropic and anisotropic Gaussian, generalized
  Gaussian, plateau, :func:`random_mixed_kernels` over a list of those, and the 2D sinc
  (:func:`circular_lowpass_kernel`).
* Noise: Gaussian and Poisson, colour or grey, on one numpy HWC image or on a torch batch (the ``*_pt`` forms, with
  parameters drawn per sample).
* JPEG compression of one numpy image with OpenCV (the batched torch JPEG is :class:`basicsr.utils.diffjpeg.DiffJPEG`).

Randomness: without ``rng`` / ``generator`` the functions draw from numpy's and Python's global generators (numpy
forms, in BasicSR's order) or torch's global one (torch forms), as BasicSR does. Datasets pass the sample's
``np.random.Generator`` and training code a ``torch.Generator``, so that a run seed reproduces every draw; a torch
generator may live on another device than the images (see :mod:`basicsr.utils.torch_random`).

Shapes: numpy images are HWC float32 in [0, 1] (BGR, as read); torch images are NCHW float in [0, 1] (RGB). Noise
``sigma`` is on the 0-255 scale.
"""
import math
import random
from typing import Any, Sequence

import cv2
import numpy as np
import torch

from basicsr.utils import torch_random

KERNEL_TYPES = ('iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso')
_GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601 luma of RGB, as torchvision's rgb_to_grayscale

Range = Sequence[float]


# ------------------------------------------------------------------------------------------------ kernel shapes
def sigma_matrix2(sig_x: float, sig_y: float, theta: float) -> np.ndarray:
    """The covariance ``R diag(sig_x^2, sig_y^2) R^T`` of a Gaussian rotated by ``theta`` radians."""
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return rotation @ np.diag([sig_x**2, sig_y**2]) @ rotation.T


def mesh_grid(kernel_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel offsets from the kernel centre: ``xy`` (K, K, 2) holding (x, y), and ``xx``, ``yy`` (K, K)."""
    axis = np.arange(-kernel_size // 2 + 1., kernel_size // 2 + 1.)
    xx, yy = np.meshgrid(axis, axis)
    return np.stack([xx, yy], axis=-1), xx, yy


def _quadratic_form(sigma_matrix: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``x^T Sigma^-1 x`` at every offset ``x`` of ``grid`` (K, K, 2): the squared Mahalanobis distance."""
    return np.sum((grid @ np.linalg.inv(sigma_matrix)) * grid, axis=-1)


def pdf2(sigma_matrix: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The bivariate Gaussian ``exp(-x^T Sigma^-1 x / 2)`` on ``grid`` (not normalised)."""
    return np.exp(-0.5 * _quadratic_form(sigma_matrix, grid))


def cdf2(skew: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The CDF of the standard bivariate normal at ``grid @ skew`` (for skewed kernels); the two coordinates are
    independent, so it is the product of the 1D CDFs."""
    points = torch.from_numpy(np.ascontiguousarray(grid @ skew, dtype=np.float64))
    return torch.special.ndtr(points).prod(dim=-1).numpy()


def _covariance(sig_x: float, sig_y: float, theta: float, isotropic: bool) -> np.ndarray:
    return np.diag([sig_x**2, sig_x**2]) if isotropic else sigma_matrix2(sig_x, sig_y, theta)


def _normalised(kernel: np.ndarray) -> np.ndarray:
    return kernel / np.sum(kernel)


def _grid(kernel_size: int, grid: np.ndarray | None) -> np.ndarray:
    return mesh_grid(kernel_size)[0] if grid is None else grid


def bivariate_Gaussian(kernel_size: int, sig_x: float, sig_y: float, theta: float, grid: np.ndarray | None = None,
                       isotropic: bool = True) -> np.ndarray:
    """A normalised Gaussian kernel; ``isotropic`` uses ``sig_x`` only (``sig_y`` and ``theta`` are ignored)."""
    return _normalised(pdf2(_covariance(sig_x, sig_y, theta, isotropic), _grid(kernel_size, grid)))


def bivariate_generalized_Gaussian(kernel_size: int, sig_x: float, sig_y: float, theta: float, beta: float,
                                   grid: np.ndarray | None = None, isotropic: bool = True) -> np.ndarray:
    """The generalized Gaussian ``exp(-(x^T Sigma^-1 x)^beta / 2)`` (Real-ESRGAN eq. 2), normalised.

    ``beta`` is the exponent of the squared distance: ``beta = 1`` is the Gaussian, smaller values give heavier
    tails, larger ones a flatter top (written with the distance itself, the exponent is ``2 * beta``).
    """
    form = _quadratic_form(_covariance(sig_x, sig_y, theta, isotropic), _grid(kernel_size, grid))
    return _normalised(np.exp(-0.5 * np.power(form, beta)))


def bivariate_plateau(kernel_size: int, sig_x: float, sig_y: float, theta: float, beta: float,
                      grid: np.ndarray | None = None, isotropic: bool = True) -> np.ndarray:
    """The plateau-shaped ``1 / (1 + (x^T Sigma^-1 x)^beta)`` (Real-ESRGAN eq. 3), normalised."""
    form = _quadratic_form(_covariance(sig_x, sig_y, theta, isotropic), _grid(kernel_size, grid))
    return _normalised(1.0 / (np.power(form, beta) + 1.0))


def circular_lowpass_kernel(cutoff: float, kernel_size: int, pad_to: int = 0) -> np.ndarray:
    """The 2D sinc filter: the ideal circular low-pass filter of cutoff ``cutoff`` (radians per pixel, pi at most),
    truncated to ``kernel_size`` (odd), normalised to sum 1 and zero-padded to ``pad_to`` (0: no padding).

    ``h(r) = cutoff * J1(cutoff * r) / (2 * pi * r)``, with its limit ``cutoff^2 / (4 * pi)`` at the centre.
    """
    _check_odd(kernel_size, 'kernel_size')
    _, xx, yy = mesh_grid(kernel_size)
    radius = torch.from_numpy(np.sqrt(xx**2 + yy**2))
    bessel = torch.special.bessel_j1(cutoff * radius).numpy()
    with np.errstate(divide='ignore', invalid='ignore'):
        kernel = cutoff * bessel / (2 * np.pi * radius.numpy())
    centre = kernel_size // 2
    kernel[centre, centre] = cutoff**2 / (4 * np.pi)
    kernel = _normalised(kernel)
    if pad_to > kernel_size:
        _check_odd(pad_to, 'pad_to')
        pad = (pad_to - kernel_size) // 2
        kernel = np.pad(kernel, ((pad, pad), (pad, pad)))
    return kernel


def _check_odd(size: int, name: str) -> None:
    if size < 1 or size % 2 == 0:
        raise ValueError(f'{name} must be a positive odd number, got {size}.')


def _check_range(values: Range, name: str) -> None:
    if len(values) != 2 or values[0] > values[1]:
        raise ValueError(f'{name} must be [low, high] with low <= high, got {list(values)}.')


# ------------------------------------------------------------------------------------------------ random kernels
def _numpy(rng: np.random.Generator | None) -> Any:
    """The generator to draw from: ``rng``, or numpy's global one (BasicSR's behaviour)."""
    return np.random if rng is None else rng


def _draw_shape(sigma_x_range: Range, sigma_y_range: Range, rotation_range: Range, isotropic: bool,
                rng: np.random.Generator | None) -> tuple[float, float, float]:
    _check_range(sigma_x_range, 'sigma_x_range')
    sigma_x = float(_numpy(rng).uniform(sigma_x_range[0], sigma_x_range[1]))
    if isotropic:
        return sigma_x, sigma_x, 0.0
    _check_range(sigma_y_range, 'sigma_y_range')
    _check_range(rotation_range, 'rotation_range')
    sigma_y = float(_numpy(rng).uniform(sigma_y_range[0], sigma_y_range[1]))
    return sigma_x, sigma_y, float(_numpy(rng).uniform(rotation_range[0], rotation_range[1]))


def _draw_beta(beta_range: Range, rng: np.random.Generator | None) -> float:
    """Below or above 1 with equal chances, uniform within (BasicSR's rule; it expects low <= 1 <= high)."""
    _check_range(beta_range, 'beta_range')
    if _numpy(rng).uniform() < 0.5:
        return float(_numpy(rng).uniform(beta_range[0], 1))
    return float(_numpy(rng).uniform(1, beta_range[1]))


def _with_kernel_noise(kernel: np.ndarray, noise_range: Range | None, rng: np.random.Generator | None) -> np.ndarray:
    """The kernel times uniform multiplicative noise from ``noise_range`` (if any), normalised."""
    if noise_range is not None:
        _check_range(noise_range, 'noise_range')
        kernel = kernel * _numpy(rng).uniform(noise_range[0], noise_range[1], size=kernel.shape)
    return _normalised(kernel)


def _random_kernel(family: str, kernel_size: int, sigma_x_range: Range, sigma_y_range: Range, rotation_range: Range,
                   beta_range: Range | None, noise_range: Range | None, isotropic: bool,
                   rng: np.random.Generator | None) -> tuple[np.ndarray, dict[str, Any]]:
    """A kernel of ``family`` ('gaussian', 'generalized', 'plateau') with random parameters, and the parameters."""
    _check_odd(kernel_size, 'kernel_size')
    sigma_x, sigma_y, theta = _draw_shape(sigma_x_range, sigma_y_range, rotation_range, isotropic, rng)
    params: dict[str, Any] = {'size': kernel_size, 'sigma_x': sigma_x, 'sigma_y': sigma_y, 'theta': theta}
    if family == 'gaussian':
        kernel = bivariate_Gaussian(kernel_size, sigma_x, sigma_y, theta, isotropic=isotropic)
    else:
        params['beta'] = _draw_beta(beta_range, rng)
        shape = bivariate_generalized_Gaussian if family == 'generalized' else bivariate_plateau
        kernel = shape(kernel_size, sigma_x, sigma_y, theta, params['beta'], isotropic=isotropic)
    return _with_kernel_noise(kernel, noise_range, rng), params


def random_bivariate_Gaussian(kernel_size: int, sigma_x_range: Range, sigma_y_range: Range, rotation_range: Range,
                              noise_range: Range | None = None, isotropic: bool = True,
                              rng: np.random.Generator | None = None) -> np.ndarray:
    """A Gaussian kernel with sigmas and rotation drawn uniformly from the ranges (``isotropic``: ``sigma_x_range``
    only), optionally times multiplicative noise from ``noise_range``."""
    return _random_kernel('gaussian', kernel_size, sigma_x_range, sigma_y_range, rotation_range, None, noise_range,
                          isotropic, rng)[0]


def random_bivariate_generalized_Gaussian(kernel_size: int, sigma_x_range: Range, sigma_y_range: Range,
                                          rotation_range: Range, beta_range: Range, noise_range: Range | None = None,
                                          isotropic: bool = True, rng: np.random.Generator | None = None) -> np.ndarray:
    """A generalized Gaussian kernel with random sigmas, rotation and ``beta`` (see :func:`_draw_beta`)."""
    return _random_kernel('generalized', kernel_size, sigma_x_range, sigma_y_range, rotation_range, beta_range,
                          noise_range, isotropic, rng)[0]


def random_bivariate_plateau(kernel_size: int, sigma_x_range: Range, sigma_y_range: Range, rotation_range: Range,
                             beta_range: Range, noise_range: Range | None = None, isotropic: bool = True,
                             rng: np.random.Generator | None = None) -> np.ndarray:
    """A plateau kernel with random sigmas, rotation and ``beta`` (see :func:`_draw_beta`)."""
    return _random_kernel('plateau', kernel_size, sigma_x_range, sigma_y_range, rotation_range, beta_range,
                          noise_range, isotropic, rng)[0]


def draw_mixed_kernel(kernel_list: Sequence[str], kernel_prob: Sequence[float], kernel_size: int = 21,
                      sigma_x_range: Range = (0.6, 5), sigma_y_range: Range = (0.6, 5),
                      rotation_range: Range = (-math.pi, math.pi), betag_range: Range = (0.5, 8),
                      betap_range: Range = (0.5, 8), noise_range: Range | None = None,
                      rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`random_mixed_kernels`, also returning the parameters drawn (type, size, sigmas, theta, beta)."""
    unknown = sorted(set(kernel_list) - set(KERNEL_TYPES))
    if unknown or len(kernel_list) != len(kernel_prob) or not kernel_list:
        raise ValueError(f'kernel_list must name kernels of {KERNEL_TYPES} with one kernel_prob each; got '
                         f'{list(kernel_list)} with {list(kernel_prob)}.')
    if rng is None:
        kernel_type = random.choices(kernel_list, kernel_prob)[0]
    else:
        probs = np.asarray(kernel_prob, dtype=np.float64)
        kernel_type = kernel_list[rng.choice(len(kernel_list), p=probs / probs.sum())]
    family, _, isotropy = kernel_type.rpartition('_')
    family = family or 'gaussian'  # 'iso' / 'aniso'
    beta_range = {'generalized': betag_range, 'plateau': betap_range}.get(family)
    kernel, params = _random_kernel(family, kernel_size, sigma_x_range, sigma_y_range, rotation_range, beta_range,
                                    noise_range, isotropy == 'iso', rng)
    return kernel, {'type': kernel_type, **params}


def random_mixed_kernels(kernel_list: Sequence[str], kernel_prob: Sequence[float], kernel_size: int = 21,
                         sigma_x_range: Range = (0.6, 5), sigma_y_range: Range = (0.6, 5),
                         rotation_range: Range = (-math.pi, math.pi), betag_range: Range = (0.5, 8),
                         betap_range: Range = (0.5, 8), noise_range: Range | None = None,
                         rng: np.random.Generator | None = None) -> np.ndarray:
    """A kernel of a type drawn from ``kernel_list`` (names in :data:`KERNEL_TYPES`) with ``kernel_prob``, with
    random parameters; ``betag_range`` is used by the generalized Gaussians, ``betap_range`` by the plateaus."""
    return draw_mixed_kernel(kernel_list, kernel_prob, kernel_size, sigma_x_range, sigma_y_range, rotation_range,
                             betag_range, betap_range, noise_range, rng)[0]


# ------------------------------------------------------------------------------------------------ noise (shared)
def _clip_round(out: Any, clip: bool, rounds: bool) -> Any:
    """Round to the 8-bit grid and/or clip to [0, 1]; works on numpy arrays and torch tensors alike."""
    if rounds:
        out = (out * 255.).round()
        return (out.clip(0, 255) if clip else out) / 255.
    return out.clip(0, 1) if clip else out


# ------------------------------------------------------------------------------------------------ noise (numpy)
def generate_gaussian_noise(img: np.ndarray, sigma: float = 10, gray_noise: bool = False,
                            rng: np.random.Generator | None = None) -> np.ndarray:
    """Gaussian noise of standard deviation ``sigma`` / 255 shaped like ``img``; ``gray_noise``: the same noise in
    every channel."""
    if gray_noise:
        noise = np.float32(_numpy(rng).standard_normal(img.shape[:2])) * sigma / 255.
        return noise if img.ndim == 2 else np.repeat(noise[..., None], img.shape[2], axis=2)
    return np.float32(_numpy(rng).standard_normal(img.shape)) * sigma / 255.


def add_gaussian_noise(img: np.ndarray, sigma: float = 10, clip: bool = True, rounds: bool = False,
                       gray_noise: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
    """``img`` plus :func:`generate_gaussian_noise`, then clipped to [0, 1] and/or rounded to 8 bits."""
    return _clip_round(img + generate_gaussian_noise(img, sigma, gray_noise, rng), clip, rounds)


def random_generate_gaussian_noise(img: np.ndarray, sigma_range: Range = (0, 10), gray_prob: float = 0,
                                   rng: np.random.Generator | None = None) -> np.ndarray:
    """Gaussian noise with ``sigma`` uniform in ``sigma_range``, grey with probability ``gray_prob``."""
    sigma = _numpy(rng).uniform(sigma_range[0], sigma_range[1])
    gray_noise = _numpy(rng).uniform() < gray_prob
    return generate_gaussian_noise(img, sigma, gray_noise, rng)


def random_add_gaussian_noise(img: np.ndarray, sigma_range: Range = (0, 1.0), gray_prob: float = 0,
                              clip: bool = True, rounds: bool = False,
                              rng: np.random.Generator | None = None) -> np.ndarray:
    return _clip_round(img + random_generate_gaussian_noise(img, sigma_range, gray_prob, rng), clip, rounds)


def generate_poisson_noise(img: np.ndarray, scale: float = 1.0, gray_noise: bool = False,
                           rng: np.random.Generator | None = None) -> np.ndarray:
    """Poisson (shot) noise of ``img`` times ``scale``.

    The image is rounded to 8 bits; ``vals``, the photon count per unit intensity, is its number of distinct values
    rounded up to a power of two (scikit-image's rule). The noisy image is ``Poisson(img * vals) / vals``, so the
    noise has variance ``scale^2 * img / vals``. ``gray_noise``: computed on the grey image (BGR input) and added
    to every channel.
    """
    if gray_noise:
        img = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_BGR2GRAY)
    img = np.clip((img * 255.0).round(), 0, 255) / 255.
    vals = 2 ** np.ceil(np.log2(len(np.unique(img))))
    noise = np.float32(_numpy(rng).poisson(img * vals) / float(vals)) - img
    if gray_noise:
        noise = np.repeat(noise[..., None], 3, axis=2)
    return (noise * scale).astype(np.float32)


def add_poisson_noise(img: np.ndarray, scale: float = 1.0, clip: bool = True, rounds: bool = False,
                      gray_noise: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
    return _clip_round(img + generate_poisson_noise(img, scale, gray_noise, rng), clip, rounds)


def random_generate_poisson_noise(img: np.ndarray, scale_range: Range = (0, 1.0), gray_prob: float = 0,
                                  rng: np.random.Generator | None = None) -> np.ndarray:
    scale = _numpy(rng).uniform(scale_range[0], scale_range[1])
    gray_noise = _numpy(rng).uniform() < gray_prob
    return generate_poisson_noise(img, scale, gray_noise, rng)


def random_add_poisson_noise(img: np.ndarray, scale_range: Range = (0, 1.0), gray_prob: float = 0, clip: bool = True,
                             rounds: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
    return _clip_round(img + random_generate_poisson_noise(img, scale_range, gray_prob, rng), clip, rounds)


# ------------------------------------------------------------------------------------------------ noise (torch)
PerSample = float | torch.Tensor  # a number for the whole batch, or a tensor of one value per sample


def _per_sample(value: PerSample, img: torch.Tensor) -> PerSample:
    return value.to(img.device, img.dtype).view(-1, 1, 1, 1) if isinstance(value, torch.Tensor) else value


def _mix_grey(colour: torch.Tensor, grey: torch.Tensor | None, gray_noise: PerSample) -> torch.Tensor:
    """Per sample, the grey noise (one channel, the same in all) where ``gray_noise`` is 1, else the colour noise."""
    if grey is None:
        return colour
    if isinstance(gray_noise, torch.Tensor):
        return torch.where(gray_noise > 0.5, grey.expand_as(colour), colour)
    return grey.expand_as(colour)


def _has_grey(gray_noise: PerSample) -> bool:
    """Whether grey noise must be drawn; for a tensor always (a fixed number of draws whatever the values, and no
    device synchronisation to look at them)."""
    return isinstance(gray_noise, torch.Tensor) or gray_noise > 0.5


def generate_gaussian_noise_pt(img: torch.Tensor, sigma: PerSample = 10, gray_noise: PerSample = 0,
                               generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian noise for a batch ``img`` (B, C, H, W): standard deviation ``sigma`` / 255 and grey (1) or colour (0)
    per sample (numbers, or tensors of shape (B,))."""
    b, _, h, w = img.shape
    sigma, gray_noise = _per_sample(sigma, img), _per_sample(gray_noise, img)
    colour = torch_random.randn(img.shape, generator, img.device, img.dtype)
    grey = torch_random.randn((b, 1, h, w), generator, img.device, img.dtype) if _has_grey(gray_noise) else None
    return _mix_grey(colour, grey, gray_noise) * sigma / 255.


def add_gaussian_noise_pt(img: torch.Tensor, sigma: PerSample = 10, gray_noise: PerSample = 0, clip: bool = True,
                          rounds: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    return _clip_round(img + generate_gaussian_noise_pt(img, sigma, gray_noise, generator), clip, rounds)


def draw_noise_parameters(img: torch.Tensor, value_range: Range, gray_prob: float,
                       generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample noise strengths uniform in ``value_range`` and grey flags (1.0 with probability ``gray_prob``): the
    draws of the ``random_*_noise_pt`` functions, in their order, for callers that want to know them."""
    b = img.size(0)
    value = torch_random.uniform(value_range[0], value_range[1], b, generator, img.device).to(img.dtype)
    gray = (torch_random.rand(b, generator, img.device) < gray_prob).to(img.dtype)
    return value, gray


def random_generate_gaussian_noise_pt(img: torch.Tensor, sigma_range: Range = (0, 10), gray_prob: float = 0,
                                      generator: torch.Generator | None = None) -> torch.Tensor:
    sigma, gray_noise = draw_noise_parameters(img, sigma_range, gray_prob, generator)
    return generate_gaussian_noise_pt(img, sigma, gray_noise, generator)


def random_add_gaussian_noise_pt(img: torch.Tensor, sigma_range: Range = (0, 1.0), gray_prob: float = 0,
                                 clip: bool = True, rounds: bool = False,
                                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``img`` plus Gaussian noise whose sigma (uniform in ``sigma_range``) and greyness (``gray_prob``) are drawn
    per sample."""
    return _clip_round(img + random_generate_gaussian_noise_pt(img, sigma_range, gray_prob, generator), clip, rounds)


def _poisson_noise_pt(img: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Shot noise of a batch, each sample with its own photon count per unit intensity (see
    :func:`generate_poisson_noise`)."""
    b = img.size(0)
    levels = torch.clamp((img * 255.0).round(), 0, 255)
    img = levels / 255.
    present = torch.zeros(b, 256, device=img.device, dtype=img.dtype)
    present.scatter_add_(1, levels.long().view(b, -1), torch.ones_like(levels).view(b, -1))
    vals = torch.exp2(torch.ceil(torch.log2((present > 0).sum(1).to(img.dtype)))).view(b, 1, 1, 1)
    return torch_random.poisson(img * vals, generator) / vals - img


def generate_poisson_noise_pt(img: torch.Tensor, scale: PerSample = 1.0, gray_noise: PerSample = 0,
                              generator: torch.Generator | None = None) -> torch.Tensor:
    """Poisson noise for a batch (RGB), scaled by ``scale``, grey (computed on the luma) or colour per sample; see
    :func:`generate_poisson_noise` for the model."""
    scale, gray_noise = _per_sample(scale, img), _per_sample(gray_noise, img)
    colour = _poisson_noise_pt(img, generator)
    grey = None
    if _has_grey(gray_noise):
        weights = img.new_tensor(_GREY_WEIGHTS).view(1, 3, 1, 1)
        grey = _poisson_noise_pt((img * weights).sum(1, keepdim=True), generator)
    return _mix_grey(colour, grey, gray_noise) * scale


def add_poisson_noise_pt(img: torch.Tensor, scale: PerSample = 1.0, clip: bool = True, rounds: bool = False,
                         gray_noise: PerSample = 0, generator: torch.Generator | None = None) -> torch.Tensor:
    return _clip_round(img + generate_poisson_noise_pt(img, scale, gray_noise, generator), clip, rounds)


def random_generate_poisson_noise_pt(img: torch.Tensor, scale_range: Range = (0, 1.0), gray_prob: float = 0,
                                     generator: torch.Generator | None = None) -> torch.Tensor:
    scale, gray_noise = draw_noise_parameters(img, scale_range, gray_prob, generator)
    return generate_poisson_noise_pt(img, scale, gray_noise, generator)


def random_add_poisson_noise_pt(img: torch.Tensor, scale_range: Range = (0, 1.0), gray_prob: float = 0,
                                clip: bool = True, rounds: bool = False,
                                generator: torch.Generator | None = None) -> torch.Tensor:
    """``img`` plus Poisson noise whose scale (uniform in ``scale_range``) and greyness (``gray_prob``) are drawn per
    sample."""
    return _clip_round(img + random_generate_poisson_noise_pt(img, scale_range, gray_prob, generator), clip, rounds)


# ------------------------------------------------------------------------------------------------ JPEG (numpy)
def add_jpg_compression(img: np.ndarray, quality: float = 90) -> np.ndarray:
    """``img`` (float32 [0, 1]) JPEG-encoded by OpenCV at ``quality`` (0-100, truncated to an integer, as libjpeg
    takes it) and decoded, as float32."""
    img8 = (np.clip(img, 0, 1) * 255.).round().astype(np.uint8)
    ok, encoded = cv2.imencode('.jpg', img8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f'OpenCV could not JPEG-encode an image of shape {img.shape}.')
    return np.float32(cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED).reshape(img.shape)) / 255.


def random_add_jpg_compression(img: np.ndarray, quality_range: Range = (90, 100),
                               rng: np.random.Generator | None = None) -> np.ndarray:
    """:func:`add_jpg_compression` at a quality uniform in ``quality_range``."""
    return add_jpg_compression(img, _numpy(rng).uniform(quality_range[0], quality_range[1]))
