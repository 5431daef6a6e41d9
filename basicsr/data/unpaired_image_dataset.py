"""Unpaired images for degradation learning (DSGAN): clean source images and real low-resolution target images."""
import random
from typing import Any, Literal

import numpy as np

from basicsr.data.data_util import SampleKey, single_paths, split_sample_key
from basicsr.data.paired_image_dataset import ImageDatasetBase
from basicsr.data.transforms import augment, bicubic_lq, mod_crop, random_crop_with_bicubic_lq
from basicsr.utils.errors import DataError
from basicsr.utils.registry import DATASET_REGISTRY


def random_crop(img: np.ndarray, size: int, rng: random.Random, path: str = '') -> np.ndarray:
    """A random ``size`` x ``size`` patch of one image."""
    height, width = img.shape[:2]
    if height < size or width < size:
        raise DataError(f'{path} ({width}x{height}) is smaller than the target patch size {size}x{size} '
                        '(gt_size / scale).')
    top, left = rng.randint(0, height - size), rng.randint(0, width - size)
    return img[top:top + size, left:left + size, ...]


@DATASET_REGISTRY.register()
class UnpairedImageDataset(ImageDatasetBase):
    """Clean source images, given at high resolution and bicubic-downscaled on the fly, with unrelated images of the
    target domain (real low-resolution photographs), as DSGAN learns from.

    Each sample holds ``lq``, the source downscaled by ``scale`` (MATLAB ``imresize``, rounded to 8 bits: the
    generator's input X_b), and ``target``, a target-domain image z, with their paths ``lq_path`` / ``target_path``.

    Training: a random ``gt_size`` patch of source image ``index`` gives a ``gt_size // scale`` ``lq`` patch; the
    target is a random image of the target set with an independent random patch of the same size. Both get their
    own random flips/rotations. All draws come from the sample's generator, so a run seed reproduces them.
    Validation/testing: whole images; the set has ``max(sources, targets)`` samples, sample ``i`` pairing source
    ``i % sources`` with target ``i % targets``, so every image of both sets is seen.

    Args:
        dataroot_source: folder (or ``.lmdb``) of clean high-resolution images.
        dataroot_target: folder (or ``.lmdb``) of target-domain low-resolution images; it may be the same folder.
        io_backend: ``{'type': 'disk'}`` or ``{'type': 'lmdb'}`` (then both roots are ``.lmdb``).
        meta_info_file: optional list of the source files to use.
        gt_size: source patch size for training (a multiple of ``scale``).
        use_hflip / use_rot: augmentation for training.
        color, mean, std: as :class:`~basicsr.data.paired_image_dataset.PairedImageDataset`.
    """

    path_keys = ('dataroot_source', 'dataroot_target', 'meta_info_file')  # the resolver makes them absolute

    def __init__(self, dataroot_source: str, dataroot_target: str, io_backend: dict[str, Any] | None = None,
                 meta_info_file: str | None = None, gt_size: int | None = None, use_hflip: bool = False,
                 use_rot: bool = False, color: Literal['y'] | None = None, mean: list[float] | None = None,
                 std: list[float] | None = None, phase: str = 'train', scale: int = 4) -> None:
        folders = {'source': dataroot_source, 'target': dataroot_target}
        super().__init__(io_backend or {'type': 'disk'}, folders, color, mean, std)
        self.scale, self.phase, self.gt_size = scale, phase, gt_size
        self.use_hflip, self.use_rot = use_hflip, use_rot
        if phase == 'train':
            if gt_size is None:
                raise DataError(f'{dataroot_source}: gt_size is required for training.')
            if gt_size % scale:
                raise DataError(f'{dataroot_source}: gt_size {gt_size} is not a multiple of scale {scale}.')
        self.sources = single_paths(dataroot_source, meta_info_file)
        self.targets = single_paths(dataroot_target)
        for folder, paths in ((dataroot_source, self.sources), (dataroot_target, self.targets)):
            if not paths:
                raise DataError(f'{folder}: no images found.')

    def __len__(self) -> int:
        if self.phase == 'train':
            return len(self.sources)
        return max(len(self.sources), len(self.targets))

    def __getitem__(self, key: SampleKey) -> dict[str, Any]:
        index, rng = split_sample_key(key)
        source_path = self.sources[index % len(self.sources)]
        source = self.read(source_path, 'source')
        if self.phase == 'train':
            target_path = self.targets[rng.randrange(len(self.targets))]
            _, lq = random_crop_with_bicubic_lq(source, self.gt_size, self.scale, rng, source_path)
            target = random_crop(self.read(target_path, 'target'), self.gt_size // self.scale, rng, target_path)
            lq = augment(lq, self.use_hflip, self.use_rot, rng=rng)
            target = augment(target, self.use_hflip, self.use_rot, rng=rng)
        else:
            target_path = self.targets[index % len(self.targets)]
            lq = bicubic_lq(mod_crop(source, self.scale), self.scale)
            target = self.read(target_path, 'target')
        lq, target = self.to_tensors([lq, target])
        return {'lq': lq, 'target': target, 'lq_path': source_path, 'target_path': target_path}
