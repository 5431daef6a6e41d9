"""PSNR and SSIM as BasicSR defines them (the numbers SR papers print), in numpy and in torch.

The numpy functions are the reference: [0, 255] BGR images (normally uint8 from ``tensor2img``), border cropped
before the optional BT.601 Y conversion, float64 arithmetic, SSIM with an 11x11 Gaussian window (sigma 1.5) over
the valid region, per channel and averaged. The torch functions take NCHW RGB tensors in [0, 1] on any device and
return one float64 value per image; fed the same images they agree with the numpy ones to about 1e-6 relative
(unlike BasicSR's own torch PSNR, no 1e-8 is added to the MSE, so identical images give inf).
"""
import warnings

import cv2
import numpy as np
import torch

from basicsr.metrics.metric_util import reorder_image, to_y_channel
from basicsr.utils import img_util
from basicsr.utils.errors import ShapeMismatchError
from basicsr.utils.matlab_functions import BT601_Y_OFFSET, BT601_Y_WEIGHTS
from basicsr.utils.matlab_functions import rgb2ycbcr_pt  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.registry import METRIC_REGISTRY

_C1 = (0.01 * 255)**2
_C2 = (0.03 * 255)**2
_WINDOW_SIZE = 11
_GAUSSIAN_1D = cv2.getGaussianKernel(_WINDOW_SIZE, 1.5)  # (11, 1) float64, sums to 1
_HALF = _WINDOW_SIZE // 2
# SSIM works on blocks of rows whose moments take about this many bytes: on CPU small enough to stay in cache
# (several times faster than whole-image passes), elsewhere just a bound on the work memory.
_CPU_BLOCK_BYTES = 3 * 2**19  # 1.5 MiB: the fastest of 0.6-3 MiB on a 2-core EPYC (512 KiB L2 per core)
_DEVICE_BLOCK_BYTES = 256 * 2**20


def _check_pair(shape: tuple[int, ...], shape2: tuple[int, ...], crop_border: int, name: str) -> None:
    if tuple(shape) != tuple(shape2):
        raise ShapeMismatchError(f'{name}: the two images must have the same shape, got {tuple(shape)} and '
                                 f'{tuple(shape2)}.')
    if crop_border < 0:
        raise ValueError(f'{name}: crop_border must be >= 0, got {crop_border}.')


def _check_crop(height: int, width: int, crop_border: int, name: str) -> None:
    if min(height, width) <= 2 * crop_border:
        raise ValueError(f'{name}: crop_border {crop_border} leaves no pixels of a {height}x{width} image.')


def _prepare_numpy(img: np.ndarray, img2: np.ndarray, crop_border: int, input_order: str, test_y_channel: bool,
                   name: str) -> tuple[np.ndarray, np.ndarray]:
    """HWC float64 [0, 255] images after reordering, cropping and the optional Y conversion (in that order)."""
    _check_pair(img.shape, img2.shape, crop_border, name)
    prepared = []
    for image in (img, img2):
        image = reorder_image(image, input_order)
        _check_crop(image.shape[0], image.shape[1], crop_border, name)
        image = img_util.crop_border(image, crop_border)
        if test_y_channel:
            image = to_y_channel(image)
        prepared.append(image.astype(np.float64))
    return prepared[0], prepared[1]


@METRIC_REGISTRY.register(perfect_score=float('inf'))
def calculate_psnr(img: np.ndarray, img2: np.ndarray, crop_border: int, input_order: str = 'HWC',
                   test_y_channel: bool = False) -> float:
    """PSNR (dB) of two [0, 255] BGR images; inf when they are identical."""
    img, img2 = _prepare_numpy(img, img2, crop_border, input_order, test_y_channel, 'calculate_psnr')
    mse = np.mean((img - img2)**2)
    if mse == 0:
        return float('inf')
    return float(10. * np.log10(255. * 255. / mse))


@METRIC_REGISTRY.register(perfect_score=1.0)
def calculate_ssim(img: np.ndarray, img2: np.ndarray, crop_border: int, input_order: str = 'HWC',
                   test_y_channel: bool = False) -> float:
    """SSIM of two [0, 255] BGR images, the mean over channels of each channel's mean SSIM map."""
    img, img2 = _prepare_numpy(img, img2, crop_border, input_order, test_y_channel, 'calculate_ssim')
    if not _window_fits(img.shape[:2], 'calculate_ssim'):
        return float('nan')
    return float(np.mean([_ssim(img[..., c], img2[..., c]) for c in range(img.shape[2])]))


def _window_fits(size: tuple[int, ...], name: str) -> bool:
    """Whether the SSIM window fits in an image of ``size``; if not, SSIM is undefined: warn (the value is nan, as
    BasicSR's, whose SSIM map is then empty)."""
    if min(size) >= _WINDOW_SIZE:
        return True
    warnings.warn(f'{name}: SSIM needs images of at least {_WINDOW_SIZE}x{_WINDOW_SIZE} after cropping the border '
                  f'(its window), got {tuple(size)}: the value is nan.', RuntimeWarning, stacklevel=3)
    return False


def _ssim(img: np.ndarray, img2: np.ndarray) -> float:
    """Mean SSIM map of two single-channel float64 images, over the region the whole window covers."""
    luminance, contrast_structure = ssim_terms(img, img2)
    return float((luminance * contrast_structure).mean())


def ssim_terms(img: np.ndarray, img2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The luminance and contrast-structure maps of SSIM (their product is the SSIM map) of two single-channel
    float64 images, over the region the whole 11x11 Gaussian window covers. MS-SSIM uses them separately."""
    window = _GAUSSIAN_1D @ _GAUSSIAN_1D.T

    def filt(x: np.ndarray) -> np.ndarray:
        return cv2.filter2D(x, -1, window)[_HALF:-_HALF, _HALF:-_HALF]

    mu1, mu2 = filt(img), filt(img2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    sigma1_sq = filt(img**2) - mu1_sq
    sigma2_sq = filt(img2**2) - mu2_sq
    sigma12 = filt(img * img2) - mu1_mu2
    luminance = (2 * mu1_mu2 + _C1) / (mu1_sq + mu2_sq + _C1)
    return luminance, (2 * sigma12 + _C2) / (sigma1_sq + sigma2_sq + _C2)


def _crop_pair_torch(img: torch.Tensor, img2: torch.Tensor, crop_border: int,
                     name: str) -> tuple[torch.Tensor, torch.Tensor]:
    _check_pair(img.shape, img2.shape, crop_border, name)
    if img.dim() != 4:
        raise ValueError(f'{name}: expected NCHW tensors, got shape {tuple(img.shape)}.')
    if not (img.is_floating_point() and img2.is_floating_point()):
        raise TypeError(f'{name}: expected floating-point tensors in [0, 1], got {img.dtype} and {img2.dtype}.')
    _check_crop(img.shape[-2], img.shape[-1], crop_border, name)
    if crop_border:
        img = img[..., crop_border:-crop_border, crop_border:-crop_border]
        img2 = img2[..., crop_border:-crop_border, crop_border:-crop_border]
    return img.detach(), img2.detach()


def _converts_to_y(img: torch.Tensor, test_y_channel: bool) -> bool:
    """Like the numpy reference, only 3-channel images are converted to Y."""
    return test_y_channel and img.shape[1] == 3


def _to_255_float64(img: torch.Tensor, test_y_channel: bool, out: torch.Tensor | None = None,
                    offset: bool = True) -> torch.Tensor:
    """[0, 1] NCHW RGB -> float64 on the 0-255 scale (its Y channel if asked), in ``out`` if given.

    ``offset=False`` leaves out Y's constant 16, for differences of Y (Y is affine in RGB). Y is accumulated
    channel by channel straight into the float64 result, without a float64 copy of the RGB image.
    """
    if not _converts_to_y(img, test_y_channel):
        out = torch.empty(img.shape, dtype=torch.float64, device=img.device) if out is None else out
        return out.copy_(img).mul_(255.)
    if out is None:
        out = torch.empty((img.shape[0], 1) + img.shape[2:], dtype=torch.float64, device=img.device)
    w_r, w_g, w_b = BT601_Y_WEIGHTS
    out.copy_(img[:, 0:1]).mul_(w_r).add_(img[:, 1:2], alpha=w_g).add_(img[:, 2:3], alpha=w_b)
    return out.add_(BT601_Y_OFFSET) if offset else out


@METRIC_REGISTRY.register(perfect_score=float('inf'))
def calculate_psnr_pt(img: torch.Tensor, img2: torch.Tensor, crop_border: int, test_y_channel: bool = False,
                      input_order: str = 'CHW') -> torch.Tensor:
    """PSNR (dB) of NCHW RGB [0, 1] tensors, shape (N,) float64; inf for identical images.

    ``input_order`` is accepted so that the options of :func:`calculate_psnr` fit; tensors are always NCHW.
    """
    img, img2 = _crop_pair_torch(img, img2, crop_border, 'calculate_psnr_pt')
    # the difference first, then (linear) Y and scale: one float64 image instead of two
    diff = _to_255_float64(img.to(torch.float64, copy=True).sub_(img2), test_y_channel, offset=False).flatten(1)
    mse = torch.linalg.vecdot(diff, diff) / diff.shape[1]
    return 10. * torch.log10(255. * 255. / mse)


@METRIC_REGISTRY.register(perfect_score=1.0)
def calculate_ssim_pt(img: torch.Tensor, img2: torch.Tensor, crop_border: int, test_y_channel: bool = False,
                      input_order: str = 'CHW') -> torch.Tensor:
    """SSIM of NCHW RGB [0, 1] tensors, shape (N,) float64 (per-channel SSIM averaged over channels).

    ``input_order`` is accepted so that the options of :func:`calculate_ssim` fit; tensors are always NCHW.
    """
    img, img2 = _crop_pair_torch(img, img2, crop_border, 'calculate_ssim_pt')
    if not _window_fits(img.shape[-2:], 'calculate_ssim_pt'):
        return torch.full(img.shape[:1], float('nan'), dtype=torch.float64, device=img.device)
    n, _, h, w = img.shape
    channels = 1 if _converts_to_y(img, test_y_channel) else img.shape[1]
    out_h, out_w = h - 2 * _HALF, w - 2 * _HALF
    budget = _CPU_BLOCK_BYTES if img.device.type == 'cpu' else _DEVICE_BLOCK_BYTES
    rows = max(8, budget // (4 * n * channels * w * 8))  # 4 float64 moments per pixel
    buffers = _Buffers()
    total = torch.zeros(n, dtype=torch.float64, device=img.device)
    for top in range(0, out_h, rows):
        bottom = min(top + rows, out_h) + 2 * _HALF
        moments = _moments(img[..., top:bottom, :], img2[..., top:bottom, :], test_y_channel, buffers)
        total += _ssim_map(*_gaussian_valid(moments, buffers)).sum(dim=(1, 2, 3))
    return total / (channels * out_h * out_w)


class _Buffers:
    """Work tensors reused from one block of rows to the next (only the last block may differ in size)."""

    def __init__(self) -> None:
        self._tensors: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        """A float64 tensor of ``shape``: the one of this name if it has that shape, otherwise a new one."""
        tensor = self._tensors.get(name)
        if tensor is None or tensor.shape != shape:
            tensor = self._tensors[name] = torch.empty(shape, dtype=torch.float64, device=device)
        return tensor


def _moments(img: torch.Tensor, img2: torch.Tensor, test_y_channel: bool, buffers: _Buffers) -> torch.Tensor:
    """x, y, x^2 + y^2 and xy (the four quantities SSIM filters) stacked along a new leading dim.

    x and y are ``img`` and ``img2`` as float64 on the 0-255 scale (Y channel if asked).
    """
    n, c, h, w = img.shape
    out = buffers.get('moments', (4, n, 1 if _converts_to_y(img, test_y_channel) else c, h, w), img.device)
    x, y = _to_255_float64(img, test_y_channel, out[0]), _to_255_float64(img2, test_y_channel, out[1])
    torch.mul(x, x, out=out[2]).addcmul_(y, y)
    torch.mul(x, y, out=out[3])
    return out


def _ssim_map(mu1: torch.Tensor, mu2: torch.Tensor, sq_sum: torch.Tensor, prod: torch.Tensor) -> torch.Tensor:
    """SSIM map from Gaussian-filtered x, y, x^2 + y^2 and xy (all overwritten).

    Only sigma1^2 + sigma2^2 and sigma12 enter the formula, so x^2 and y^2 need not be filtered separately.
    """
    mu1_mu2 = mu1 * mu2
    mu_sq_sum = mu1.mul_(mu1).addcmul_(mu2, mu2)
    sigma_sum = sq_sum.sub_(mu_sq_sum).add_(_C2)  # sigma1^2 + sigma2^2 + C2
    cs_num = prod.sub_(mu1_mu2).mul_(2).add_(_C2)  # 2 sigma12 + C2
    luminance = mu1_mu2.mul_(2).add_(_C1).div_(mu_sq_sum.add_(_C1))
    return luminance.mul_(cs_num).div_(sigma_sum)


def _gaussian_valid(x: torch.Tensor, buffers: _Buffers) -> torch.Tensor:
    """Separable 11x11 Gaussian filter over the last two dims, 'valid' region only (no padding).

    Accumulates shifted slices in float64: torch's float64 convolutions are several times slower on CPU.
    """
    out_h, out_w = x.shape[-2] - 2 * _HALF, x.shape[-1] - 2 * _HALF
    taps = _GAUSSIAN_1D[:, 0].tolist()
    cols = buffers.get('cols', x.shape[:-2] + (out_h, x.shape[-1]), x.device)
    torch.mul(x[..., 0:out_h, :], taps[0], out=cols)
    for k in range(1, _WINDOW_SIZE):
        cols.add_(x[..., k:k + out_h, :], alpha=taps[k])
    out = buffers.get('out', x.shape[:-2] + (out_h, out_w), x.device)
    torch.mul(cols[..., 0:out_w], taps[0], out=out)
    for k in range(1, _WINDOW_SIZE):
        out.add_(cols[..., k:k + out_w], alpha=taps[k])
    return out
