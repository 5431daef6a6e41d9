"""Paired GT/LQ images for supervised SR, from folders, a meta-info file or LMDB; LQ can be made on the fly."""
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from basicsr.data.data_util import SampleKey, lmdb_backend_options, paired_paths, single_paths, split_sample_key
from basicsr.data.data_util import (  # noqa: F401  (BasicSR 1.4.2 exposes them here)
    paired_paths_from_folder, paired_paths_from_lmdb, paired_paths_from_meta_info_file)
from basicsr.data.transforms import (augment, bicubic_lq, check_pair_size, mod_crop, paired_random_crop,
                                     random_crop_with_bicubic_lq)
from basicsr.utils.errors import DataError
from basicsr.utils.file_client import FileClient, build_file_client  # FileClient: BasicSR 1.4.2 exposes it here
from basicsr.utils.img_util import img2tensor, img_as_float32, imdecode
from basicsr.utils.img_util import imfrombytes  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.matlab_functions import bgr2ycbcr
from basicsr.utils.matlab_functions import rgb2ycbcr  # noqa: F401  (BasicSR 1.3 exposed it here)
from basicsr.utils.registry import DATASET_REGISTRY


class ImageDatasetBase(Dataset):
    """Reading, colour handling and tensor conversion shared by the image datasets.

    The datasets declare their options as keyword arguments; :mod:`basicsr.data` also lets each be built BasicSR's
    way from one options dict, ``PairedImageDataset(opt)``. BasicSR's attributes ``opt``, ``io_backend_opt``,
    ``file_client``, ``paths``, ``mean`` and ``std`` (and the datasets' folders) are there for plug-in code.
    """

    def __init__(self, io_backend: dict[str, Any], folders: dict[str, str], color: Literal['y'] | None,
                 mean: list[float] | None, std: list[float] | None) -> None:
        io_type = io_backend.get('type', 'disk')
        for folder in folders.values():
            if io_type != 'lmdb' and str(folder).rstrip('/').endswith('.lmdb'):
                raise DataError(f"{folder}: an LMDB folder needs io_backend type 'lmdb' (got '{io_type}').")
        self.io_backend_opt = lmdb_backend_options(io_backend, folders)
        self.file_client = build_file_client(self.io_backend_opt)
        self.color = color
        self.mean, self.std = mean, std

    def read(self, path: str, client_key: str) -> np.ndarray:
        """Decode an image as float32 BGR HWC in [0, 1] (Y only, HxWx1, with ``color: y``)."""
        return self.to_float(self.decode(path, client_key), path)

    def decode(self, path: str, client_key: str) -> np.ndarray:
        """Decode an image as stored (BGR HWC, 8- or 16-bit): crop it before :meth:`to_float` when only a patch
        is used (converting a whole 480x480 image to float costs about 15% of a training sample)."""
        return imdecode(self.file_client.get(path, client_key), source=path)

    def to_float(self, img: np.ndarray, path: str) -> np.ndarray:
        """A decoded image as float32 in [0, 1] (Y only, HxWx1, with ``color: y``)."""
        img = img_as_float32(img, path)
        if self.color == 'y':
            img = bgr2ycbcr(img, y_only=True)[..., None]
        return img

    def to_tensors(self, imgs: list[np.ndarray]) -> list[torch.Tensor]:
        tensors = img2tensor(imgs, bgr2rgb=True, float32=True)
        if self.mean is not None or self.std is not None:
            mean = torch.tensor(self.mean or [0.0] * tensors[0].size(0)).view(-1, 1, 1)
            std = torch.tensor(self.std or [1.0] * tensors[0].size(0)).view(-1, 1, 1)
            tensors = [(t - mean) / std for t in tensors]
        return tensors


def check_pair_alignment(gt_shape: tuple, lq_shape: tuple, scale: int, gt_path: str, lq_path: str) -> None:
    """A DataError naming the pair and the likely cause when the GT is not ``scale`` times the LQ give or take less
    than ``scale`` pixels (that much comes from a GT not cropped to a multiple of the scale, which validation crops)."""
    excess = (gt_shape[0] - lq_shape[0] * scale, gt_shape[1] - lq_shape[1] * scale)
    if all(0 <= e < scale for e in excess):
        return
    raise DataError(f'{gt_path} ({gt_shape[1]}x{gt_shape[0]}) and {lq_path} ({lq_shape[1]}x{lq_shape[0]}) are not a '
                    f'x{scale} pair (the GT should be {lq_shape[1] * scale}x{lq_shape[0] * scale}): the LQ was made '
                    f'from another image or at another scale, or, for sub-images, the HR was not cropped to a '
                    f'multiple of {scale} before cutting, so the HR and LR grids do not line up. '
                    'scripts/prepare_dataset.py makes aligned pairs.')


@DATASET_REGISTRY.register()
class PairedImageDataset(ImageDatasetBase):
    """GT images with their low-quality (LQ) counterparts.

    Training (``phase: train``) takes a random ``gt_size`` GT patch with the matching LQ patch, then random flips
    and rotations. Validation/testing gives whole images (GT cropped to ``scale`` x the LQ size when it is a few
    pixels larger, as happens when the LQ was made from a non-mod-cropped GT).

    Without ``dataroot_lq`` the LQ is the bicubic downscaling of the GT (MATLAB ``imresize``, rounded to 8 bits),
    computed on the fly; it equals what ``scripts/generate_lr.py`` writes.

    Args:
        dataroot_gt / dataroot_lq: folders or ``.lmdb`` databases.
        io_backend: ``{'type': 'disk'}`` or ``{'type': 'lmdb'}``.
        meta_info_file: optional list of GT files (first field of each line) to use from ``dataroot_gt``.
        filename_tmpl: LQ name from the GT stem, e.g. ``'{}x4'`` for DIV2K's ``0001x4.png``.
        gt_size: GT patch size for training (a multiple of ``scale``).
        use_hflip / use_rot: augmentation for training.
        color: ``'y'`` to train on the Y channel only.
        mean / std: optional per-channel normalisation.
    """

    path_keys = ('dataroot_gt', 'dataroot_lq', 'meta_info_file')  # files and folders (the resolver makes them absolute)

    def __init__(self, dataroot_gt: str, dataroot_lq: str | None = None, io_backend: dict[str, Any] | None = None,
                 meta_info_file: str | None = None, filename_tmpl: str = '{}', gt_size: int | None = None,
                 use_hflip: bool = False, use_rot: bool = False, color: Literal['y'] | None = None,
                 mean: list[float] | None = None, std: list[float] | None = None, phase: str = 'train',
                 scale: int = 4) -> None:
        folders = {'gt': dataroot_gt} if dataroot_lq is None else {'lq': dataroot_lq, 'gt': dataroot_gt}
        super().__init__(io_backend or {'type': 'disk'}, folders, color, mean, std)
        self.gt_folder, self.lq_folder, self.filename_tmpl = dataroot_gt, dataroot_lq, filename_tmpl
        self.scale = scale
        self.phase = phase
        self.gt_size = gt_size
        self.use_hflip, self.use_rot = use_hflip, use_rot
        self.lq_on_the_fly = dataroot_lq is None
        if phase == 'train':
            if gt_size is None:
                raise DataError(f'{dataroot_gt}: gt_size is required for training.')
            if gt_size % scale:
                raise DataError(f'{dataroot_gt}: gt_size {gt_size} is not a multiple of scale {scale}.')
        if self.lq_on_the_fly:
            self.paths = [{'gt_path': p, 'lq_path': p} for p in single_paths(dataroot_gt, meta_info_file)]
        else:
            self.paths = paired_paths(dataroot_gt, dataroot_lq, filename_tmpl, meta_info_file)
        if not self.paths:
            raise DataError(f'{dataroot_gt}: no images found.')

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: SampleKey) -> dict[str, Any]:
        index, rng = split_sample_key(key)
        gt_path, lq_path = self.paths[index]['gt_path'], self.paths[index]['lq_path']
        train = self.phase == 'train'
        if self.lq_on_the_fly:
            img_gt = self.read(gt_path, 'gt')
            if train:
                img_gt, img_lq = random_crop_with_bicubic_lq(img_gt, self.gt_size, self.scale, rng, gt_path)
            else:
                img_gt = mod_crop(img_gt, self.scale)
                img_lq = bicubic_lq(img_gt, self.scale)
        else:  # crop as stored, then convert only what is kept
            img_gt, img_lq = self.decode(gt_path, 'gt'), self.decode(lq_path, 'lq')
            check_pair_alignment(img_gt.shape, img_lq.shape, self.scale, gt_path, lq_path)
            if train:
                img_gt, img_lq = paired_random_crop(img_gt, img_lq, self.gt_size, self.scale, gt_path,
                                                    rng=rng, lq_path=lq_path)
            else:
                img_gt = self._fit_gt(img_gt, img_lq, gt_path, lq_path)
            img_gt, img_lq = self.to_float(img_gt, gt_path), self.to_float(img_lq, lq_path)
        if train:
            img_gt, img_lq = augment([img_gt, img_lq], self.use_hflip, self.use_rot, rng=rng)
        img_gt, img_lq = self.to_tensors([img_gt, img_lq])
        return {'lq': img_lq, 'gt': img_gt, 'lq_path': lq_path, 'gt_path': gt_path}

    def _fit_gt(self, img_gt: np.ndarray, img_lq: np.ndarray, gt_path: str, lq_path: str) -> np.ndarray:
        h, w = img_lq.shape[0] * self.scale, img_lq.shape[1] * self.scale
        if h <= img_gt.shape[0] < h + self.scale and w <= img_gt.shape[1] < w + self.scale:
            img_gt = img_gt[:h, :w, ...]
        check_pair_size(img_gt.shape, img_lq.shape, self.scale, gt_path, lq_path)
        return img_gt
