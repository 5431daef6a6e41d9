"""FID (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", 2017):
the Fréchet distance between Gaussians fitted to the Inception pool3 features of two image sets; lower is better.

``calculate_fid`` (:class:`FrechetInceptionDistance`) is a set-level metric (see :mod:`.dataset_metric`): the SR
outputs of a whole validation or test set against its GT images, or against a reference statistics file
(``reference_stats``: an ``.npz`` with ``mu`` (2048,) and ``sigma`` (2048, 2048), as pytorch-fid's ``--save-stats``
and ``scripts/fid_reference_stats.py`` write it). Features are pytorch-fid's (:mod:`basicsr.archs.inception_arch`);
means and covariances (N - 1 normalisation) are float64.

FID is biased upwards on small sets and needs at least two images per set; papers compute it on thousands of
images, so values over a few validation images compare runs with each other, not with papers.
"""
import functools
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from basicsr.archs.inception_arch import FEATURE_DIM, FIDInceptionV3, find_inception_weights
from basicsr.metrics.dataset_metric import DatasetMetric
from basicsr.metrics.metric_util import quantize_tensor
from basicsr.utils.checkpoint import atomic_write
from basicsr.utils.errors import DataError
from basicsr.utils.file_inspect import npz_arrays
from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import METRIC_REGISTRY


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))``, in float64.

    The trace of the matrix square root is the sum of the square roots of the eigenvalues of
    ``sigma1^(1/2) sigma2 sigma1^(1/2)``, which has the eigenvalues of ``sigma1 sigma2`` and is symmetric positive
    semi-definite: two symmetric eigen-decompositions, exact also for singular covariances (no scipy, no added
    epsilon).
    """
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    values, vectors = np.linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    return _combine(mu1, mu2, np.trace(sigma1), np.trace(sigma2), _sqrt_eigenvalue_sum(root1 @ sigma2 @ root1))


def calculate_fid(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                  eps: float = 1e-6) -> float:
    """BasicSR's ``basicsr.metrics.fid.calculate_fid``: :func:`frechet_distance` of two Gaussians. ``eps`` (the
    diagonal offset BasicSR adds when scipy's square root fails) is accepted and not needed here."""
    if np.shape(mu1) != np.shape(mu2) or np.shape(sigma1) != np.shape(sigma2):
        raise ValueError(f'calculate_fid: the two Gaussians differ in dimension: means {np.shape(mu1)} and '
                         f'{np.shape(mu2)}, covariances {np.shape(sigma1)} and {np.shape(sigma2)}.')
    return frechet_distance(mu1, sigma1, mu2, sigma2)


def _combine(mu1: np.ndarray, mu2: np.ndarray, trace1: float, trace2: float, trace_root: float) -> float:
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    return float(diff @ diff + trace1 + trace2 - 2 * trace_root)


def _sqrt_eigenvalue_sum(matrix: np.ndarray) -> float:
    """Sum of the square roots of the eigenvalues of a symmetric positive semi-definite matrix (rounding errors
    symmetrised away, tiny negative eigenvalues counted as 0)."""
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((matrix + matrix.T) / 2), 0, None)).sum())


def _centred(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ``(features - mean) / sqrt(N - 1)`` (whose Gram matrix is the covariance) of (N, D) features in
    float64, rows first put in a canonical order, so the result does not depend on how the set was split or
    ordered (distributed shares merge into exactly one process's value)."""
    if len(features) < 2:
        raise ValueError(f'FID statistics need at least 2 images, got {len(features)}.')
    features = np.asarray(features, np.float64)
    features = features[np.lexsort(features.T[::-1])]
    mu = features.mean(axis=0)
    return mu, (features - mu) / np.sqrt(len(features) - 1)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (N - 1 normalisation) of (N, D) features, float64, independent of the row order."""
    mu, centred = _centred(features)
    return mu, centred.T @ centred


def features_frechet_distance(features: np.ndarray, reference: np.ndarray | tuple[np.ndarray, np.ndarray]) -> float:
    """The Fréchet distance between the Gaussian of (N, D) ``features`` and that of the ``reference`` features (an
    array) or statistics (``(mu, sigma)``); equal to :func:`frechet_distance` of the statistics.

    With ``A`` the centred features (``sigma = A^T A``), the eigenvalues of ``sigma1 sigma2`` are those of the
    small matrix ``A sigma2 A^T``, or the squared singular values of ``A B^T`` when both sides are features: with
    fewer images than dimensions (any validation set: D = 2048) no D x D decomposition is needed.
    """
    mu1, a = _centred(features)
    if isinstance(reference, tuple):
        mu2, sigma2 = (np.asarray(x, np.float64) for x in reference)
        if len(a) >= a.shape[1]:
            return frechet_distance(mu1, a.T @ a, mu2, sigma2)
        return _combine(mu1, mu2, np.sum(a * a), np.trace(sigma2), _sqrt_eigenvalue_sum(a @ sigma2 @ a.T))
    mu2, b = _centred(reference)
    if min(len(a), len(b)) >= a.shape[1]:
        return frechet_distance(mu1, a.T @ a, mu2, b.T @ b)
    return _combine(mu1, mu2, np.sum(a * a), np.sum(b * b), np.linalg.svd(a @ b.T, compute_uv=False).sum())


def load_reference_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``mu`` and ``sigma`` of a reference statistics ``.npz``; a DataError names the file and the problem."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f'{path}: FID reference statistics file not found (write one with '
                        '`python scripts/fid_reference_stats.py --input FOLDER --output FILE.npz`).')
    return _read_stats(str(path.resolve()), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _read_stats(path: str, mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    arrays = npz_arrays(path, {'mu': (FEATURE_DIM,), 'sigma': (FEATURE_DIM, FEATURE_DIM)},
                        'FID reference statistics')
    mu, sigma = arrays['mu'], arrays['sigma']
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise DataError(f'{path}: the FID statistics hold NaN or infinite values.')
    mu.flags.writeable = sigma.flags.writeable = False
    return mu, sigma


def save_reference_stats(path: str | Path, mu: np.ndarray, sigma: np.ndarray, count: int) -> None:
    """Write ``mu``, ``sigma`` and the image ``count`` to an ``.npz``, atomically."""
    atomic_write(path, lambda file: np.savez(file, mu=mu, sigma=sigma, count=np.int64(count)))


def fid_weight_files(pretrained: bool = True, inception_weights_path: str | None = None,
                     reference_stats: str | None = None) -> Path | None:
    """Check the files an FID of these options reads (the Inception weights, the reference statistics); returns
    the weights file (None for a random network). Raises the CheckpointError / DataError of a missing one."""
    if reference_stats:
        load_reference_stats(reference_stats)
    return find_inception_weights(inception_weights_path) if pretrained else None


@functools.lru_cache(maxsize=2)
def inception_network(pretrained: bool, inception_weights_path: str | None, device: torch.device) -> FIDInceptionV3:
    """The FID Inception on ``device``, built once per process."""
    return FIDInceptionV3(pretrained, inception_weights_path).to(device)


def inception_features(images: torch.Tensor, pretrained: bool = True,
                       inception_weights_path: str | None = None) -> np.ndarray:
    """Pool3 features (N, 2048) float32 of NCHW RGB [0, 1] images, on their device."""
    network = inception_network(pretrained, inception_weights_path, images.device)
    with torch.inference_mode():
        return network(images.float()).cpu().numpy()


@METRIC_REGISTRY.register(name='calculate_fid', perfect_score=0.0)
class FrechetInceptionDistance(DatasetMetric):
    """FID of the SR outputs of a set against its GT images or against ``reference_stats``.

    Args:
        reference_stats: an ``.npz`` with ``mu``/``sigma`` of the reference set; without it, the GT images of the
            evaluated set are the reference (their features are extracted too).
        pretrained: the FID Inception weights (published FIDs). False: a random network, for demos and tests.
        inception_weights_path: the ``pt_inception-2015-12-05-6726825d.pth`` file, if not in the torch hub cache.
    """

    check_files = staticmethod(fid_weight_files)  # found before a run starts

    def __init__(self, reference_stats: str | None = None, pretrained: bool = True,
                 inception_weights_path: str | None = None) -> None:
        self.reference = load_reference_stats(reference_stats) if reference_stats else None
        self.pretrained = pretrained
        self.inception_weights_path = inception_weights_path
        self._features: dict[str, list[np.ndarray]] = {'sr': [], 'gt': []}

    def update(self, sr: torch.Tensor, gt: torch.Tensor | None) -> None:
        self._features['sr'].append(self._extract(sr))
        if self.reference is None:
            if gt is None:
                raise DataError('calculate_fid: without reference_stats FID compares the SR images with the GT '
                                'images, and this set has none; set reference_stats.')
            self._features['gt'].append(self._extract(gt))

    def _extract(self, images: torch.Tensor) -> np.ndarray:
        return inception_features(quantize_tensor(images), self.pretrained, self.inception_weights_path)

    def state(self) -> dict[str, Any]:
        return {key: np.concatenate(rows) if rows else np.empty((0, FEATURE_DIM), np.float32)
                for key, rows in self._features.items()}

    @staticmethod
    def merge_states(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {key: np.concatenate([state[key] for state in states]) for key in ('sr', 'gt')}

    def compute(self, state: dict[str, Any] | None = None) -> float:
        """FID of the state's images; NaN (with a warning) when a set has fewer than 2 images."""
        state = self.state() if state is None else state
        sets = [state['sr']] if self.reference is not None else [state['sr'], state['gt']]
        if min(len(features) for features in sets) < 2:
            get_root_logger().warning(f'calculate_fid: FID needs at least 2 images per set, got '
                                      f'{[len(features) for features in sets]}; reported as NaN.')
            return math.nan
        return features_frechet_distance(state['sr'], self.reference if self.reference is not None else state['gt'])
