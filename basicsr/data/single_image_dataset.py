"""Single (LQ-only) images, for inference on inputs without ground truth."""
from typing import Any, Literal

from basicsr.data.data_util import SampleKey, single_paths, split_sample_key
from basicsr.data.data_util import paths_from_lmdb  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.data.paired_image_dataset import ImageDatasetBase
from basicsr.utils.errors import DataError
from basicsr.utils.file_client import FileClient  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.img_util import imfrombytes, img2tensor  # noqa: F401  (BasicSR 1.4.2 exposes them here)
from basicsr.utils.matlab_functions import rgb2ycbcr  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.misc import scandir  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.registry import DATASET_REGISTRY


@DATASET_REGISTRY.register()
class SingleImageDataset(ImageDatasetBase):
    """Every image of ``dataroot_lq`` (a folder, a meta-info list of it, or an ``.lmdb``), returned whole.

    Args: see :class:`PairedImageDataset`; ``phase`` and ``scale`` are accepted for uniformity and unused.
    """

    path_keys = ('dataroot_lq', 'meta_info_file')  # files and folders (the resolver makes them absolute)

    def __init__(self, dataroot_lq: str, io_backend: dict[str, Any] | None = None, meta_info_file: str | None = None,
                 color: Literal['y'] | None = None, mean: list[float] | None = None, std: list[float] | None = None,
                 phase: str = 'test', scale: int = 4) -> None:
        super().__init__(io_backend or {'type': 'disk'}, {'lq': dataroot_lq}, color, mean, std)
        self.lq_folder = dataroot_lq
        self.paths = single_paths(dataroot_lq, meta_info_file)
        if not self.paths:
            raise DataError(f'{dataroot_lq}: no images found.')

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: SampleKey) -> dict[str, Any]:
        index, _ = split_sample_key(key)
        path = self.paths[index]
        img_lq, = self.to_tensors([self.read(path, 'lq')])
        return {'lq': img_lq, 'lq_path': path}
