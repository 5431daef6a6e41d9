"""Paired GT/LQ images for fine-tuning Real-ESRGAN on real pairs (BasicSR's ``RealESRGANPairedDataset``)."""
from pathlib import Path
from typing import Any, Literal

from basicsr.data.data_util import meta_info_lines
from basicsr.data.data_util import (  # noqa: F401  (BasicSR 1.4.2 exposes them here)
    paired_paths_from_folder, paired_paths_from_lmdb)
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.transforms import augment, paired_random_crop  # noqa: F401  (BasicSR 1.4.2 exposes them here)
from basicsr.utils.errors import DataError
from basicsr.utils.file_client import FileClient  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.img_util import imfrombytes, img2tensor  # noqa: F401  (BasicSR 1.4.2 exposes them here)
from basicsr.utils.path_policy import inside
from basicsr.utils.registry import DATASET_REGISTRY


def read_pair_list(meta_info: str, dataroot_gt: str, dataroot_lq: str) -> list[dict[str, str]]:
    """``[{'gt_path': ..., 'lq_path': ...}]`` from a meta-info file of ``gt_path, lq_path`` lines (paths relative to
    ``dataroot_gt`` and ``dataroot_lq``, as Real-ESRGAN's ``generate_meta_info_pairdata.py`` writes them); each file
    must exist."""
    pairs = []
    for line_no, line in meta_info_lines(meta_info):
        names = [name.strip() for name in line.split(',')]
        if len(names) != 2 or not all(names):
            raise DataError(f"{meta_info}, line {line_no}: expected 'gt_path, lq_path', got {line!r}.")
        where = f'{meta_info}, line {line_no}'
        pair = {'gt_path': str(inside(dataroot_gt, names[0], where)),
                'lq_path': str(inside(dataroot_lq, names[1], where))}
        for path in pair.values():
            if not Path(path).is_file():
                raise DataError(f'{meta_info}, line {line_no}: {path} does not exist.')
        pairs.append(pair)
    return pairs


@DATASET_REGISTRY.register()
class RealESRGANPairedDataset(PairedImageDataset):
    """:class:`~basicsr.data.paired_image_dataset.PairedImageDataset` with BasicSR's ``meta_info`` pair list.

    Pairs come from, in this order: two LMDB databases (``io_backend: {type: lmdb}``; ``meta_info`` is not used, as
    in BasicSR), the ``meta_info`` file (``gt_path, lq_path`` per line, see :func:`read_pair_list`), or the two
    folders matched by ``filename_tmpl``. Crops, flips and whole-image validation are PairedImageDataset's.
    """

    path_keys = ('dataroot_gt', 'dataroot_lq', 'meta_info')  # files and folders (the resolver makes them absolute)

    def __init__(self, dataroot_gt: str, dataroot_lq: str, io_backend: dict[str, Any] | None = None,
                 meta_info: str | None = None, filename_tmpl: str = '{}', gt_size: int | None = None,
                 use_hflip: bool = False, use_rot: bool = False, color: Literal['y'] | None = None,
                 mean: list[float] | None = None, std: list[float] | None = None, phase: str = 'train',
                 scale: int = 4) -> None:
        io_backend = io_backend or {'type': 'disk'}
        common = {'io_backend': io_backend, 'gt_size': gt_size, 'use_hflip': use_hflip, 'use_rot': use_rot,
                  'color': color, 'mean': mean, 'std': std, 'phase': phase, 'scale': scale}
        if meta_info is None or io_backend.get('type') == 'lmdb':
            super().__init__(dataroot_gt, dataroot_lq, filename_tmpl=filename_tmpl, **common)
            return
        # Set up as a GT-only dataset (which pairs nothing), then take the listed pairs, read from the two folders.
        super().__init__(dataroot_gt, None, **common)
        self.paths = read_pair_list(meta_info, dataroot_gt, dataroot_lq)
        self.lq_on_the_fly = False
        if not self.paths:
            raise DataError(f'{meta_info}: lists no image pairs.')
