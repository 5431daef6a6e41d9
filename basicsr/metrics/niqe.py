"""NIQE, the no-reference "naturalness" score perceptual SR papers report next to PSNR (lower is better).

Mittal, Soundararajan and Bovik, "Making a 'Completely Blind' Image Quality Analyzer", IEEE SPL 2013, computed as
the authors' MATLAB release and BasicSR compute it:

* the image becomes one [0, 255] channel, its Y (BT.601, BasicSR's default) or grey, rounded to integers;
* MSCN coefficients ``(I - mu) / (sigma + 1)``, with ``mu`` and ``sigma`` the local mean and standard deviation
  under a 7x7 Gaussian window (sigma 7/6), edges replicated;
* the image is cut into 96x96 blocks (the remainder is dropped). Each block gives 18 features at full resolution
  and 18 more on the image halved by MATLAB's bicubic ``imresize``: the shape and scale of a generalised Gaussian
  fitted to the coefficients, then for the products of horizontal, vertical and both diagonal neighbours the shape,
  mean, left and right scale of an asymmetric generalised Gaussian (AGGD). As in the release's ``computefeature.m``
  the first fit is the AGGD moment matching too, its scale the mean of the left and right scales;
* a multivariate Gaussian (mean, covariance) fitted to the block features is compared with the pristine model,
  fitted the same way on undistorted images: ``sqrt((mu_p - mu_d)^T pinv((cov_p + cov_d) / 2) (mu_p - mu_d))``.

The pristine model is data, not code: BasicSR ships the authors' one as ``niqe_pris_params.npz`` (keys
``mu_pris_param``, ``cov_pris_param``, ``gaussian_window``). :func:`load_niqe_model` finds it;
:func:`fit_niqe_model` (``scripts/fit_niqe_model.py``) fits one from pristine images.
"""
import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import cv2
import numpy as np
import torch

from basicsr.metrics.metric_util import reorder_image, to_y_channel
from basicsr.utils.errors import DataError
from basicsr.utils.file_inspect import npz_arrays
from basicsr.utils.known_files import download_hint
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.registry import METRIC_REGISTRY

PARAMS_ENV = 'BASICSR_NIQE_PARAMS'
PARAMS_FILE = 'niqe_pris_params.npz'
BLOCK_SIZE = 96
NUM_FEATURES = 36  # 18 per scale, two scales
MAX_WINDOW = 31  # side of the local-statistics window; BasicSR's model has 7
SHARPNESS_THRESHOLD = 0.75  # pristine blocks kept: sharpness above this fraction of the image's sharpest block
_SHAPE_GRID = np.arange(0.2, 10.001, 0.001)  # candidate shapes, the MATLAB release's 0.2:0.001:10
_gamma = np.vectorize(math.gamma)
# E[|x|]^2 / E[x^2] of a generalised Gaussian of each candidate shape, the statistic the shape is matched on
_SHAPE_RATIO = _gamma(2 / _SHAPE_GRID)**2 / (_gamma(1 / _SHAPE_GRID) * _gamma(3 / _SHAPE_GRID))
_NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical, main and anti-diagonal (circular shifts)


@dataclass(frozen=True)
class NIQEModel:
    """A multivariate Gaussian of the 36 block features, and the window its MSCN coefficients were computed with."""
    mu: np.ndarray  # (36,)
    cov: np.ndarray  # (36, 36)
    window: np.ndarray  # (k, k), sums to 1

    def save(self, path: str | os.PathLike) -> None:
        """Write the model as ``.npz`` with BasicSR's keys (through a temporary file, so a reader never sees half)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f'.{path.name}.tmp')
        with open(temporary, 'wb') as f:
            np.savez(f, mu_pris_param=self.mu, cov_pris_param=self.cov, gaussian_window=self.window)
        os.replace(temporary, path)


def gaussian_window(size: int = 7, sigma: float = 7 / 6) -> np.ndarray:
    """MATLAB's ``fspecial('gaussian', size, sigma)``: a normalised 2-D Gaussian, float64."""
    line = cv2.getGaussianKernel(size, sigma, cv2.CV_64F)
    return line @ line.T


def estimate_aggd_param(values: np.ndarray) -> tuple[float, float, float]:
    """Shape, left scale and right scale of the asymmetric generalised Gaussian fitted to ``values`` by moment
    matching (Lasmar et al.), the shape read off the release's grid; all NaN without both signs present."""
    values = np.ravel(values)
    left, right = values[values < 0], values[values > 0]
    if not left.size or not right.size:
        return math.nan, math.nan, math.nan
    left_std, right_std = math.sqrt(np.mean(left * left)), math.sqrt(np.mean(right * right))
    gamma_hat = left_std / right_std
    r_hat = np.mean(np.abs(values))**2 / np.mean(values * values)
    r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1)**2
    shape = float(_SHAPE_GRID[np.argmin((_SHAPE_RATIO - r_hat_norm)**2)])
    std_to_scale = math.sqrt(math.gamma(1 / shape) / math.gamma(3 / shape))
    return shape, left_std * std_to_scale, right_std * std_to_scale


def block_features(coefficients: np.ndarray) -> np.ndarray:
    """The 18 features of one block of MSCN coefficients (see the module docstring), float64."""
    shape, left, right = estimate_aggd_param(coefficients)
    features = [shape, (left + right) / 2]
    for shift in _NEIGHBOURS:
        shape, left, right = estimate_aggd_param(coefficients * np.roll(coefficients, shift, axis=(0, 1)))
        mean = (right - left) * math.gamma(2 / shape) / math.gamma(1 / shape)
        features += [shape, mean, left, right]
    return np.array(features)


compute_feature = block_features  # BasicSR 1.4.2's name


def mscn(img: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSCN coefficients of an HW float64 image and the local standard deviation (MATLAB ``imfilter``, replicate)."""
    def local_mean(x: np.ndarray) -> np.ndarray:
        return cv2.filter2D(x, cv2.CV_64F, window, borderType=cv2.BORDER_REPLICATE)

    mu = local_mean(img)
    sigma = np.sqrt(np.abs(local_mean(img * img) - mu * mu))
    return (img - mu) / (sigma + 1), sigma


def image_features(img: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (n_blocks, 36) and sharpness (n_blocks,) of the 96x96 blocks of an HW [0, 255] float image.

    Blocks are ordered column by column, as MATLAB's ``blkproc`` output reads; the sharpness of a block is the mean
    local standard deviation over it at full resolution.
    """
    rows, cols = img.shape[0] // BLOCK_SIZE, img.shape[1] // BLOCK_SIZE
    if not rows or not cols:
        raise ValueError(f'NIQE works on {BLOCK_SIZE}x{BLOCK_SIZE} blocks: the image (border cropped) must be at '
                         f'least that large, got {img.shape[0]}x{img.shape[1]}.')
    img = img[:rows * BLOCK_SIZE, :cols * BLOCK_SIZE].astype(np.float64)
    coefficients, sigma = mscn(img, window)
    sharpness = sigma.reshape(rows, BLOCK_SIZE, cols, BLOCK_SIZE).mean(axis=(1, 3)).ravel(order='F')
    full = _blocks_features(coefficients, BLOCK_SIZE, rows, cols)
    half = _blocks_features(mscn(imresize(img, 0.5), window)[0], BLOCK_SIZE // 2, rows, cols)
    return np.concatenate([full, half], axis=1), sharpness


def _blocks_features(coefficients: np.ndarray, size: int, rows: int, cols: int) -> np.ndarray:
    return np.array([block_features(coefficients[r * size:(r + 1) * size, c * size:(c + 1) * size])
                     for c in range(cols) for r in range(rows)])


def _gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean over the non-NaN values of each feature and covariance over the blocks without NaN (MATLAB ``nanmean``,
    ``nancov``); the covariance is None with fewer than two such blocks."""
    valid = ~np.isnan(features)
    counts = valid.sum(axis=0)
    sums = np.where(valid, features, 0).sum(axis=0)
    mean = np.divide(sums, counts, out=np.full(features.shape[1], np.nan), where=counts > 0)
    complete = features[valid.all(axis=1)]
    cov = np.cov(complete, rowvar=False) if len(complete) > 1 else None
    return mean, cov


def niqe(img: np.ndarray, model: NIQEModel) -> float:
    """NIQE of an HW [0, 255] float image against ``model``.

    NaN when no block has texture on both sides of its mean (e.g. a flat image). With a single usable block the
    image's covariance is undefined and taken as zero, so the distance uses the pristine covariance alone.
    """
    features, _ = image_features(img, model.window)
    mu, cov = _gaussian_fit(features)
    if np.isnan(mu).any():
        return math.nan
    if cov is None:
        cov = np.zeros_like(model.cov)
    diff = model.mu - mu
    return float(math.sqrt(max(diff @ np.linalg.pinv((model.cov + cov) / 2) @ diff, 0.)))


def fit_niqe_model(images: Iterable[np.ndarray],
                   sharpness_threshold: float = SHARPNESS_THRESHOLD) -> NIQEModel:
    """The pristine model of HW [0, 255] float images, as the release's ``estimatemodelparam.m`` fits it.

    From each image only the blocks sharper than ``sharpness_threshold`` times its sharpest block are kept.
    """
    window = gaussian_window()
    kept = []
    for img in images:
        features, sharpness = image_features(img, window)
        kept.append(features[sharpness > sharpness_threshold * sharpness.max()])
    features = np.concatenate(kept) if kept else np.empty((0, NUM_FEATURES))
    mu, cov = _gaussian_fit(features)
    if cov is None or np.isnan(mu).any():
        raise DataError(f'Fitting a NIQE model needs at least 2 textured {BLOCK_SIZE}x{BLOCK_SIZE} blocks without '
                         f'NaN features; the images gave {len(features)} sharp blocks.')
    return NIQEModel(mu, cov, window)


def niqe_params_locations(params_path: str | None = None) -> list[tuple[Path, str]]:
    """Where the pristine model is looked for, with where each place comes from.

    An explicit file (``params_path``, else ``$BASICSR_NIQE_PARAMS``) is the only place; otherwise
    ``<torch hub dir>/basicsr/`` and ``~/.cache/basicsr/``, in that order.
    """
    if params_path:
        return [(Path(params_path).expanduser(), 'params_path')]
    if os.environ.get(PARAMS_ENV):
        return [(Path(os.environ[PARAMS_ENV]).expanduser(), f'${PARAMS_ENV}')]
    return _default_locations()


def _default_locations() -> list[tuple[Path, str]]:
    return [(Path(torch.hub.get_dir()) / 'basicsr' / PARAMS_FILE, 'torch hub folder'),
            (Path.home() / '.cache' / 'basicsr' / PARAMS_FILE, 'user cache')]


def load_niqe_model(params_path: str | None = None) -> NIQEModel:
    """The pristine NIQE model from the first place of :func:`niqe_params_locations` that holds it.

    A missing model is a DataError naming every place looked in and the ways to provide one.
    """
    locations = niqe_params_locations(params_path)
    for path, _ in locations:
        if path.is_file():
            stat = path.stat()
            return _read_model(str(path.resolve()), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    looked = '; '.join(f'{path} ({source})' for path, source in locations)
    defaults = ' or '.join(str(path.parent) for path, _ in _default_locations())
    raise DataError(
        f"NIQE needs its pristine model, {PARAMS_FILE}, and found none. Looked in: {looked}. To provide it, put "
        f"BasicSR's basicsr/metrics/{PARAMS_FILE} in {defaults}, or name a copy with ${PARAMS_ENV} or the "
        f'metric option params_path; or fit a model from pristine images with '
        f'`python scripts/fit_niqe_model.py --input FOLDER --output FILE`.{download_hint(locations[0][0])}')


@functools.lru_cache(maxsize=4)
def _read_model(path: str, inode: int, mtime_ns: int, size: int) -> NIQEModel:
    """Read and check a model file; its inode, modification time and size key the cache, so a new file is read."""
    arrays = npz_arrays(path, {'mu_pris_param': _feature_vector, 'cov_pris_param': (NUM_FEATURES, NUM_FEATURES),
                               'gaussian_window': _window_shape}, 'a NIQE model')
    mu, cov, window = arrays['mu_pris_param'], arrays['cov_pris_param'], arrays['gaussian_window']
    if not all(np.isfinite(a).all() for a in (mu, cov, window)):
        raise DataError(f'{path}: the model holds NaN or infinite values.')
    for array in (mu, cov, window):
        array.flags.writeable = False
    return NIQEModel(mu.reshape(NUM_FEATURES), cov, window)


def _feature_vector(shape: tuple[int, ...]) -> str | None:
    """BasicSR's model stores ``mu_pris_param`` as (1, 36); a flat (36,) is fine too."""
    return None if shape in ((NUM_FEATURES,), (1, NUM_FEATURES)) else f'must hold {NUM_FEATURES} values, has {shape}'


def _window_shape(shape: tuple[int, ...]) -> str | None:
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] % 2 == 1 and shape[0] <= MAX_WINDOW:
        return None
    return f'must be a square window of odd size up to {MAX_WINDOW}, has shape {shape}'


def prepare_image(img: np.ndarray, crop_border: int, input_order: str = 'HWC', convert_to: str = 'y') -> np.ndarray:
    """A [0, 255] image (BGR when in colour) -> the HW float64 image NIQE sees: Y or grey, cropped, rounded."""
    if input_order == 'HW':
        if img.ndim != 2:
            raise ValueError(f"input_order 'HW' needs a 2-D image, got shape {img.shape}.")
    elif img.ndim == 3:
        img = reorder_image(img, input_order)
    img = img.astype(np.float32)
    if img.ndim == 3 and img.shape[2] == 3:
        img = to_y_channel(img) if convert_to == 'y' else cv2.cvtColor(img / 255., cv2.COLOR_BGR2GRAY) * 255.
    img = np.squeeze(img)
    if img.ndim != 2:
        raise ValueError(f'NIQE needs a grey or 3-channel image, got shape {img.shape}.')
    if crop_border < 0 or min(img.shape) <= 2 * crop_border:
        raise ValueError(f'crop_border {crop_border} does not fit a {img.shape[0]}x{img.shape[1]} image.')
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    return img.round().astype(np.float64)  # MATLAB's colour conversions of uint8 images give integers


@METRIC_REGISTRY.register(perfect_score=None)
def calculate_niqe(img: np.ndarray, crop_border: int, input_order: Literal['HW', 'HWC', 'CHW'] = 'HWC',
                   convert_to: Literal['y', 'gray'] = 'y', params_path: str | None = None,
                   img2: np.ndarray | None = None) -> float:
    """NIQE of a [0, 255] image (BGR when in colour), as BasicSR's ``calculate_niqe``; lower is better.

    Args:
        img: HW, HWC or CHW image, e.g. uint8 from ``tensor2img``.
        crop_border: pixels dropped at each edge first.
        input_order: layout of ``img``.
        convert_to: ``y`` (BT.601 Y, BasicSR's default) or ``gray`` (MATLAB ``rgb2gray``, the release's choice).
        params_path: the pristine model file; by default see :func:`niqe_params_locations`.
        img2: ignored. NIQE needs no reference; validation hands every metric the GT image.
    """
    model = load_niqe_model(params_path)
    return niqe(prepare_image(img, crop_border, input_order, convert_to), model)


calculate_niqe.check_files = load_niqe_model  # the pristine model, found before a run starts
