"""GT patches with per-sample blur kernels, for Real-ESRGAN's degradation on the training device (BasicSR's
``RealESRGANDataset``)."""
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from basicsr.data.data_util import (SampleKey, is_lmdb, meta_info_lines, read_meta_info_names, single_paths,
                                     split_sample_key)
from basicsr.data.degradations import KERNEL_TYPES, circular_lowpass_kernel, draw_mixed_kernel
from basicsr.data.degradations import random_mixed_kernels  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.data.paired_image_dataset import ImageDatasetBase
from basicsr.data.transforms import augment
from basicsr.utils.errors import DataError, OptionError
from basicsr.utils.file_client import FileClient  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.img_util import imfrombytes, img2tensor  # noqa: F401  (BasicSR 1.4.2 exposes them here)
from basicsr.utils.logger import get_root_logger  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.misc import IMG_EXTENSIONS
from basicsr.utils.option_schema import DEGRADATION_DATASET_CHECKS
from basicsr.utils.registry import DATASET_REGISTRY

KERNEL_LIST = ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso']
KERNEL_PROB = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]  # Real-ESRGAN's published values
MIN_KERNEL_SIZE = 7


@dataclass(frozen=True)
class KernelSampler:
    """Draws one blur kernel of a degradation round: a 2D sinc with probability ``sinc_prob``, else a kernel of
    :func:`~basicsr.data.degradations.draw_mixed_kernel`; its size is an odd number from 7 to ``kernel_size``, and
    it is zero-padded to ``kernel_size`` so that a batch stacks. With ``kernel_size`` 21 the draws are BasicSR's:
    sinc cutoffs uniform in [pi/3, pi] for sizes below 13, [pi/5, pi] above; sigmas uniform in ``blur_sigma``, any
    rotation."""
    kernel_size: int
    kernel_list: tuple[str, ...]
    kernel_prob: tuple[float, ...]
    blur_sigma: tuple[float, float]
    betag_range: tuple[float, float]
    betap_range: tuple[float, float]
    sinc_prob: float

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
        size = _random_size(rng, self.kernel_size)
        if rng.uniform() < self.sinc_prob:
            cutoff = float(rng.uniform(math.pi / 3, math.pi) if size < 13 else rng.uniform(math.pi / 5, math.pi))
            kernel, params = circular_lowpass_kernel(cutoff, size), {'type': 'sinc', 'size': size, 'cutoff': cutoff}
        else:
            kernel, params = draw_mixed_kernel(self.kernel_list, self.kernel_prob, size, self.blur_sigma,
                                               self.blur_sigma, (-math.pi, math.pi), self.betag_range,
                                               self.betap_range, rng=rng)
        return _pad_to(kernel, self.kernel_size), params


def draw_final_sinc(rng: np.random.Generator, final_sinc_prob: float, kernel_size: int) -> tuple[np.ndarray, dict]:
    """The final sinc filter (cutoff uniform in [pi/3, pi]) with probability ``final_sinc_prob``, else the identity
    (a centred pulse), both ``kernel_size`` wide."""
    if rng.uniform() < final_sinc_prob:
        size = _random_size(rng, kernel_size)
        cutoff = float(rng.uniform(math.pi / 3, math.pi))
        kernel = circular_lowpass_kernel(cutoff, size, pad_to=kernel_size)
        return kernel, {'type': 'sinc', 'size': size, 'cutoff': cutoff}
    pulse = np.zeros((kernel_size, kernel_size))
    pulse[kernel_size // 2, kernel_size // 2] = 1
    return pulse, {'type': 'identity'}


def _random_size(rng: np.random.Generator, largest: int) -> int:
    """An odd kernel size from 7 to ``largest`` (``largest`` itself when smaller)."""
    return int(rng.choice(list(range(MIN_KERNEL_SIZE, largest + 1, 2)) or [largest]))


def _pad_to(kernel: np.ndarray, size: int) -> np.ndarray:
    pad = (size - kernel.shape[0]) // 2
    return np.pad(kernel, ((pad, pad), (pad, pad)))


def _check_ranges(arguments: dict[str, Any]) -> None:
    """The option schema's ranges (:data:`~basicsr.utils.option_schema.DEGRADATION_DATASET_CHECKS`), also for a
    dataset made in code."""
    for key, value in arguments.items():
        problem = DEGRADATION_DATASET_CHECKS[key](value)
        if problem:
            raise OptionError(f'{key}: {problem}, got {value!r}.', key_path=key)


def _check_kernel_list(suffix: str, kernel_list: list[str], kernel_prob: list[float]) -> None:
    unknown = [k for k in kernel_list if k not in KERNEL_TYPES]
    if unknown or not kernel_list:
        raise OptionError(f"kernel_list{suffix}: unknown kernel types {unknown}; expected some of "
                          f"{', '.join(KERNEL_TYPES)}.", key_path=f'kernel_list{suffix}')
    if len(kernel_prob) != len(kernel_list) or min(kernel_prob) < 0 or sum(kernel_prob) <= 0:
        raise OptionError(f'kernel_prob{suffix}: expected {len(kernel_list)} non-negative weights (one per entry of '
                          f'kernel_list{suffix}), got {kernel_prob}.', key_path=f'kernel_prob{suffix}')


def lmdb_keys_from_meta_info(meta_info: str, lmdb_keys: list[str]) -> list[str]:
    """The LMDB keys a meta-info file lists, in its order: the first field of each line, without its image extension
    (BasicSR's LMDB ``meta_info.txt`` lines, ``0001_s001.png (480,480,3) 1``, and plain lists of names both work);
    each must be a key of the database."""
    known = set(lmdb_keys)
    keys = []
    for line_no, line in meta_info_lines(meta_info):
        name = line.split()[0]
        key = name[:-len(Path(name).suffix)] if Path(name).suffix.lower() in IMG_EXTENSIONS else name
        if key not in known:
            raise DataError(f"{meta_info}, line {line_no}: '{key}' is not a key of the LMDB database.")
        keys.append(key)
    return keys


@DATASET_REGISTRY.register()
class RealESRGANDataset(ImageDatasetBase):
    """GT images for Real-ESRGAN training; the LQ images are made on the training device from each sample's GT and
    kernels (:class:`~basicsr.data.degradation_pipeline.RealESRGANDegradation`).

    Each sample: a ``crop_pad_size`` square of a GT image (a random crop; images smaller than that are first
    reflect-padded at the bottom and right), flipped / rotated by ``use_hflip`` / ``use_rot``, as ``gt`` (RGB CHW);
    the first- and second-round blur kernels ``kernel1`` (``blur_kernel_size`` wide) and ``kernel2``
    (``blur_kernel_size2``), and the final ``sinc_kernel`` (``blur_kernel_size``), as float tensors; ``gt_path``.
    Every draw comes from the sample's generator, so a run seed reproduces the samples whatever the workers.

    Args:
        dataroot_gt: folder or ``.lmdb`` database of GT images.
        io_backend: ``{'type': 'disk'}`` or ``{'type': 'lmdb'}``.
        meta_info: optional list of the images to use: for a folder, paths relative to it (first field of each
            line); for an LMDB, its keys (BasicSR's ``meta_info.txt`` lines work too). Without it: every image of
            the folder, every key of the database.
        blur_kernel_size, kernel_list, kernel_prob, blur_sigma, betag_range, betap_range, sinc_prob: the first
            round's kernels (:class:`KernelSampler`); the same keys ending in ``2``: the second round's.
        final_sinc_prob: probability of the final sinc filter (else the identity).
        crop_pad_size: side of the GT squares (BasicSR: 400, the recipe then crops ``gt_size`` from them).
        gt_size: the recipe's patch size; if given, checked to fit in ``crop_pad_size``.
        use_hflip / use_rot: augmentation.
    """

    path_keys = ('dataroot_gt', 'meta_info')  # files and folders (the resolver makes them absolute)

    def __init__(self, dataroot_gt: str, io_backend: dict[str, Any] | None = None, meta_info: str | None = None,
                 blur_kernel_size: int = 21, kernel_list: list[str] = KERNEL_LIST,
                 kernel_prob: list[float] = KERNEL_PROB, blur_sigma: list[float] = (0.2, 3),
                 betag_range: list[float] = (0.5, 4), betap_range: list[float] = (1, 2), sinc_prob: float = 0.1,
                 blur_kernel_size2: int = 21, kernel_list2: list[str] = KERNEL_LIST,
                 kernel_prob2: list[float] = KERNEL_PROB, blur_sigma2: list[float] = (0.2, 1.5),
                 betag_range2: list[float] = (0.5, 4), betap_range2: list[float] = (1, 2), sinc_prob2: float = 0.1,
                 final_sinc_prob: float = 0.8, crop_pad_size: int = 400, gt_size: int | None = None,
                 use_hflip: bool = False, use_rot: bool = False, phase: str = 'train', scale: int = 4) -> None:
        super().__init__(io_backend or {'type': 'disk'}, {'gt': dataroot_gt}, None, None, None)
        self.phase, self.scale = phase, scale
        self.use_hflip, self.use_rot = use_hflip, use_rot
        if gt_size is not None and gt_size > crop_pad_size:
            raise OptionError(f'gt_size: {gt_size} is larger than crop_pad_size {crop_pad_size}, the side of the GT '
                              'squares the recipe crops it from.', key_path='gt_size')
        arguments = locals()
        _check_ranges({key: arguments[key] for key in DEGRADATION_DATASET_CHECKS})
        self.crop_pad_size = crop_pad_size
        samplers = []
        for suffix, size, kinds, probs, sigma, betag, betap, sinc in (
                ('', blur_kernel_size, kernel_list, kernel_prob, blur_sigma, betag_range, betap_range, sinc_prob),
                ('2', blur_kernel_size2, kernel_list2, kernel_prob2, blur_sigma2, betag_range2, betap_range2,
                 sinc_prob2)):
            _check_kernel_list(suffix, list(kinds), list(probs))
            samplers.append(KernelSampler(size, tuple(kinds), tuple(probs), tuple(sigma), tuple(betag), tuple(betap),
                                          sinc))
        self.kernel_samplers = samplers
        self.final_sinc_prob = final_sinc_prob
        self.paths = self._list_images(dataroot_gt, meta_info)
        if not self.paths:
            raise DataError(f'{dataroot_gt}: no images found.')

    @staticmethod
    def _list_images(dataroot_gt: str, meta_info: str | None) -> list[str]:
        if is_lmdb(dataroot_gt):
            keys = single_paths(dataroot_gt)
            return keys if meta_info is None else lmdb_keys_from_meta_info(meta_info, keys)
        if meta_info is None:
            return single_paths(dataroot_gt)
        return [str(Path(dataroot_gt) / name) for name in read_meta_info_names(meta_info, dataroot_gt)]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: SampleKey) -> dict[str, Any]:
        return self.sample(key)

    def sample(self, key: SampleKey, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The sample ``key``; the kernels' parameters are added to ``params`` when it is given."""
        index, rng = split_sample_key(key)
        gt_path = self.paths[index]
        img = self._crop_or_pad(self.decode(gt_path, 'gt'), rng)
        img = augment(self.to_float(img, gt_path), self.use_hflip, self.use_rot, rng=rng)
        kernel_rng = np.random.default_rng(rng.getrandbits(64))
        kernel1, params1 = self.kernel_samplers[0].draw(kernel_rng)
        kernel2, params2 = self.kernel_samplers[1].draw(kernel_rng)
        sinc, params_sinc = draw_final_sinc(kernel_rng, self.final_sinc_prob, self.kernel_samplers[0].kernel_size)
        if params is not None:
            params.update(kernel1=params1, kernel2=params2, sinc_kernel=params_sinc)
        gt, = self.to_tensors([img])
        kernels = [torch.from_numpy(k.astype(np.float32)) for k in (kernel1, kernel2, sinc)]
        return {'gt': gt, 'kernel1': kernels[0], 'kernel2': kernels[1], 'sinc_kernel': kernels[2], 'gt_path': gt_path}

    def _crop_or_pad(self, img: np.ndarray, rng: Any) -> np.ndarray:
        """A random ``crop_pad_size`` square, after reflect-padding (bottom, right) a side that is too short."""
        size = self.crop_pad_size
        h, w = img.shape[:2]
        if h < size or w < size:
            img = cv2.copyMakeBorder(img, 0, max(0, size - h), 0, max(0, size - w), cv2.BORDER_REFLECT_101)
            h, w = img.shape[:2]
        top, left = rng.randint(0, h - size), rng.randint(0, w - size)
        return img[top:top + size, left:left + size, ...]
