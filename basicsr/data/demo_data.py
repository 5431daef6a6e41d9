"""A small SR data set built from the photographs that scikit-image ships, for the quick start and tests.

Layout under the chosen root (BasicSR/DIV2K style)::

    train/HR/*.png       train/LR_bicubic/X{2,3,4}/*.png        whole images
    train/HR_sub/*.png   train/LR_bicubic_sub/X{2,3,4}/*.png    sub-images, for fast training I/O
    val/HR/*.png         val/LR_bicubic/X{2,3,4}/*.png

HR images are cropped to multiples of 12 (so every scale divides them); LR images are the project's MATLAB-style
bicubic downscalings rounded to 8 bits, as ``scripts/generate_lr.py`` makes them. Sub-images are cut as
``scripts/extract_subimages.py`` cuts them (HR crop 192, step 144), so HR and LR sub-images correspond.
"""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from basicsr.data.transforms import bicubic_downscale_uint8, mod_crop
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import imwrite
from basicsr.utils.logger import get_root_logger
from basicsr.utils.subimages import subimages

TRAIN_IMAGES = ('astronaut', 'rocket', 'hubble_deep_field', 'immunohistochemistry', 'retina', 'stereo_motorcycle',
                'brick', 'grass', 'gravel')
VAL_IMAGES = ('chelsea', 'coffee', 'camera')
SCALES = (2, 3, 4)
_MOD = 12  # a multiple of every scale
SUB_CROP, SUB_STEP = 192, 144  # multiples of every scale


def _load_skimage(name: str) -> np.ndarray:
    """One of scikit-image's bundled images as uint8 BGR (grey images repeated to 3 channels)."""
    from skimage import data
    loader = getattr(data, name)
    img = loader()[0] if name.startswith('stereo') else loader()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3][..., ::-1])


def write_split(folder: Path, names: tuple[str, ...], with_subimages: bool) -> None:
    """HR and bicubic LR images of ``names`` into ``folder`` (layout in the module docstring)."""
    for name in names:
        hr = mod_crop(_load_skimage(name), _MOD)
        images = {'HR': hr, **{f'LR_bicubic/X{s}': bicubic_downscale_uint8(hr, s) for s in SCALES}}
        for sub_folder, img in images.items():
            imwrite(img, folder / sub_folder / f'{name}.png')
        if not with_subimages:
            continue
        for scale in (1, *SCALES):
            sub_folder = 'HR_sub' if scale == 1 else f'LR_bicubic_sub/X{scale}'
            img = images['HR' if scale == 1 else f'LR_bicubic/X{scale}']
            for index, crop in enumerate(subimages(img, SUB_CROP // scale, SUB_STEP // scale), 1):
                imwrite(crop, folder / sub_folder / f'{name}_s{index:03d}.png')


def prepare_demo_data(root: str | os.PathLike) -> Path:
    """Build the demo data set in ``root`` unless it is already there; returns ``root``.

    Each split is written to a temporary folder and renamed into place, so an interrupted preparation is simply
    redone next time, and nothing else in ``root`` is touched.
    """
    root = Path(root)
    for split, names, with_subimages in (('train', TRAIN_IMAGES, True), ('val', VAL_IMAGES, False)):
        target = root / split
        if (target / 'HR').is_dir():
            continue
        if target.exists():
            raise DataError(f'{target}: exists but is not a complete demo split; remove it to rebuild.')
        get_root_logger().info(f'Preparing the demo {split} images in {target} from scikit-image photographs.')
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f'.{split}.', dir=root))
        try:
            write_split(tmp, names, with_subimages)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root
