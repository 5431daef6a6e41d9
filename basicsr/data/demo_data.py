"""A small SR data set built from the photographs that scikit-image ships, for the quick start and tests.

Layout under the chosen root (BasicSR/DIV2K style)::

    train/HR/*.png       train/LR_bicubic/X{2,3,4}/*.png        whole images
    train/HR_sub/*.png   train/LR_bicubic_sub/X{2,3,4}/*.png    sub-images, for fast training I/O
    val/HR/*.png         val/LR_bicubic/X{2,3,4}/*.png

HR images are cropped to multiples of 12 (so every scale divides them); LR images are the project's MATLAB-style
bicubic downscalings rounded to 8 bits, as ``scripts/generate_lr.py`` makes them. Sub-images are cut as
``scripts/extract_subimages.py`` cuts them (HR crop 192, step 144), so HR and LR sub-images correspond.

``{train,val}/LR_degraded/X4`` hold the x4 bicubic LR images after a known "real-world" degradation (JPEG quality
40, then Gaussian noise of standard deviation 8/255 seeded by the image name): the target domain of the DSGAN demo.
They are added to an existing demo folder that lacks them. The noise comes last because JPEG at quality 40 removes
about as much high-frequency energy as the noise adds, which would leave the two domains alike in that figure.
"""
import functools
import os
import zlib
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from basicsr.data.transforms import bicubic_downscale_uint8, mod_crop
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import imread, imwrite
from basicsr.utils.logger import get_root_logger
from basicsr.utils.misc import folder_written_atomically
from basicsr.data.subimages import subimages

TRAIN_IMAGES = ('astronaut', 'rocket', 'hubble_deep_field', 'immunohistochemistry', 'retina', 'stereo_motorcycle',
                'brick', 'grass', 'gravel')
VAL_IMAGES = ('chelsea', 'coffee', 'camera')
SCALES = (2, 3, 4)
_MOD = 12  # a multiple of every scale
SUB_CROP, SUB_STEP = 192, 144  # multiples of every scale
DEGRADED_FOLDER = 'LR_degraded/X4'
NOISE_SIGMA, JPEG_QUALITY = 8.0, 40  # the demo's target-domain degradation (noise on the 0-255 scale)


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


def degrade(img: np.ndarray, seed: int, sigma: float = NOISE_SIGMA, quality: int = JPEG_QUALITY) -> np.ndarray:
    """A uint8 image JPEG-compressed at ``quality`` and decoded, then with Gaussian noise (``sigma`` on the 0-255
    scale, drawn with ``seed``) added, rounded and clipped."""
    _, encoded = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    compressed = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED).astype(np.float64)
    noise = np.random.default_rng(seed).normal(0.0, sigma, img.shape)
    return np.clip(np.round(compressed + noise), 0, 255).astype(np.uint8)


def write_degraded(lr_folder: Path, folder: Path) -> None:
    """The degraded version of every PNG of ``lr_folder`` into ``folder``, the noise seeded by the file name."""
    for path in sorted(lr_folder.glob('*.png')):
        imwrite(degrade(imread(path), zlib.crc32(path.stem.encode())), folder / path.name)


def _build_atomically(target: Path, build: Callable[[Path], None], what: str) -> None:
    """``build(tmp)`` into a temporary folder beside ``target``, renamed to ``target`` once complete, so an
    interrupted preparation is simply redone next time."""
    if target.exists():
        raise DataError(f'{target}: exists but is not a complete demo folder; remove it to rebuild.')
    get_root_logger().info(f'Preparing the demo {what} in {target}.')
    with folder_written_atomically(target) as tmp:
        build(tmp)


def prepare_demo_data(root: str | os.PathLike) -> Path:
    """Build the demo data set in ``root`` unless it is already there; returns ``root``.

    Each split, and each degraded-LR folder, is written to a temporary folder and renamed into place; nothing
    else in ``root`` is touched.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DataError(f'{root}: prepare_demo_data names a file; it must be a folder (new or holding the demo).')
    try:
        _prepare_splits(root)
    except OSError as err:
        raise DataError(f'{root}: cannot write the demo data ({err.strerror or err}: {err.filename}).') from None
    return root


def _prepare_splits(root: Path) -> None:
    for split, names, with_subimages in (('train', TRAIN_IMAGES, True), ('val', VAL_IMAGES, False)):
        split_dir = root / split
        if not (split_dir / 'HR').is_dir():
            _build_atomically(split_dir, functools.partial(write_split, names=names, with_subimages=with_subimages),
                              f'{split} images (scikit-image photographs)')
        if not (split_dir / DEGRADED_FOLDER).is_dir():
            _build_atomically(split_dir / DEGRADED_FOLDER,
                              functools.partial(write_degraded, split_dir / 'LR_bicubic' / 'X4'),
                              f'{split} target domain (JPEG q{JPEG_QUALITY} + noise sigma {NOISE_SIGMA:g}/255)')
