"""Image reading, writing and numpy <-> tensor conversion.

Images on disk are read with OpenCV, so arrays are BGR, HWC. Grey, grey+alpha and RGBA files become 3-channel BGR,
16-bit files are scaled to [0, 1] with their full precision. Tensors are NCHW / CHW RGB float in [0, 1].
"""
import math
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from basicsr.utils.checkpoint import atomic_write
from basicsr.utils.errors import DataError
from basicsr.utils.image_header import check_pixel_limit, decoder_refusal, is_decoder_size_refusal

_FLAGS = ('color', 'grayscale', 'unchanged')


def imfrombytes(content: bytes, flag: str = 'color', float32: bool = False, source: str = '<bytes>') -> np.ndarray:
    """Decode image bytes.

    Args:
        content: the encoded file (PNG, JPEG, ...).
        flag: 'color' gives HxWx3 BGR, 'grayscale' gives HxW, 'unchanged' keeps the channels as stored
            (but 16-bit data is still scaled as below).
        float32: return float32 in [0, 1]; otherwise uint8 (16-bit input rounded to 8 bits).
        source: the file or key the bytes came from, named in errors.
    """
    return _scale(imdecode(content, flag, source), float32, source)


def imdecode(content: bytes, flag: str = 'color', source: str = '<bytes>') -> np.ndarray:
    """Decode image bytes like :func:`imfrombytes`, but keep the stored pixel type (uint8, uint16 or float32).

    Datasets crop these and convert only the patch with :func:`img_as_float32`, the same values for less work.
    Every image read goes through here: an image above the pixel limit (:mod:`basicsr.utils.image_header`,
    ``BASICSR_MAX_IMAGE_PIXELS``) is refused before it is decoded, from its header as read here and as OpenCV's
    decoder reads it.
    """
    if flag not in _FLAGS:
        raise ValueError(f"flag must be one of {_FLAGS}, got '{flag}'.")
    if len(content) == 0:
        raise DataError(f'{source}: the file is empty (0 bytes).')
    check_pixel_limit(content, source)
    try:
        img = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as err:
        if is_decoder_size_refusal(err):
            raise DataError(decoder_refusal(source)) from None
        raise DataError(f'{source}: not a readable image ({str(err).strip().splitlines()[-1]}).') from None
    if img is None or img.size == 0:
        raise DataError(f'{source}: not a readable image (corrupt, truncated or an unsupported format).')
    if flag == 'color':
        return _to_bgr(img, source)
    if flag == 'grayscale':
        return _to_grey(img, source)
    return img


def img_as_float32(img: np.ndarray, source: str = '<array>') -> np.ndarray:
    """A decoded image (uint8, uint16 or float32) as float32 in [0, 1]."""
    return _scale(img, True, source)


def _to_bgr(img: np.ndarray, source: str) -> np.ndarray:
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    channels = img.shape[2]
    if channels == 1:
        return cv2.cvtColor(img[..., 0], cv2.COLOR_GRAY2BGR)
    if channels == 2:  # grey + alpha
        return cv2.cvtColor(np.ascontiguousarray(img[..., 0]), cv2.COLOR_GRAY2BGR)
    if channels == 3:
        return img
    if channels == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    raise DataError(f'{source}: images with {channels} channels are not supported (expected 1 to 4).')


def _to_grey(img: np.ndarray, source: str) -> np.ndarray:
    if img.ndim == 2:
        return img
    return cv2.cvtColor(_to_bgr(img, source), cv2.COLOR_BGR2GRAY)


def _scale(img: np.ndarray, float32: bool, source: str) -> np.ndarray:
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255. if float32 else img
    if img.dtype == np.uint16:
        if float32:
            return img.astype(np.float32) / 65535.
        return np.round(img.astype(np.float32) / 257.).astype(np.uint8)
    if img.dtype == np.float32:
        return img if float32 else (img.clip(0, 1) * 255.).round().astype(np.uint8)
    raise DataError(f'{source}: pixel type {img.dtype} is not supported (expected 8-bit, 16-bit or float32).')


def imread(path: str | os.PathLike, flag: str = 'color', float32: bool = False) -> np.ndarray:
    """Read an image file (see :func:`imfrombytes`); errors name the file."""
    try:
        content = Path(path).read_bytes()
    except OSError as err:
        raise DataError(f'{path}: cannot read the file ({err.strerror or err}).') from err
    return imfrombytes(content, flag, float32, source=str(path))


def imwrite(img: np.ndarray, file_path: str | os.PathLike, params: Sequence[int] | None = None,
            auto_mkdir: bool = True) -> None:
    """Write ``img`` (BGR uint8/uint16) to ``file_path``; the format follows the extension.

    Written atomically (:func:`~basicsr.utils.checkpoint.atomic_write`): a full disk or any other I/O error is one
    error naming the file, and leaves neither a partial image nor a temporary file.
    """
    path = Path(file_path)
    if not auto_mkdir and not path.parent.is_dir():
        raise FileNotFoundError(f'{path.parent}: folder not found (auto_mkdir is off).')
    ok, encoded = cv2.imencode(path.suffix or '.png', img, list(params or []))
    if not ok:
        raise OSError(f'{path}: OpenCV could not encode the image as {path.suffix}.')
    atomic_write(path, lambda file: file.write(encoded.tobytes()))


def img2tensor(imgs: np.ndarray | list[np.ndarray], bgr2rgb: bool = True,
               float32: bool = True) -> torch.Tensor | list[torch.Tensor]:
    """HWC numpy image(s) -> CHW tensor(s), optionally swapping BGR to RGB."""

    def _one(img: np.ndarray) -> torch.Tensor:
        if img.ndim == 2:
            img = img[..., None]
        elif bgr2rgb and img.shape[2] == 3:
            img = img[..., ::-1]
        tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return tensor.float() if float32 else tensor

    if isinstance(imgs, list):
        return [_one(img) for img in imgs]
    return _one(imgs)


def tensor2img(tensor: torch.Tensor | list[torch.Tensor], rgb2bgr: bool = True, out_type: type = np.uint8,
               min_max: tuple[float, float] = (0, 1)) -> np.ndarray | list[np.ndarray]:
    """CHW / NCHW / HW tensor(s) -> HWC numpy image(s).

    Values are clamped to ``min_max`` and mapped to [0, 1]; for uint8 output they are scaled by 255 and rounded
    (so metrics see the same numbers as the saved PNG). A batch of several images becomes one grid. A list gives
    a list, except that a list of one tensor gives one image, as in BasicSR (``tensor2img([visuals['result']])``).
    """

    def _one(t: torch.Tensor) -> np.ndarray:
        t = t.detach().squeeze(0).float().cpu().clamp(*min_max)
        t = (t - min_max[0]) / (min_max[1] - min_max[0])
        if t.dim() == 4:
            from torchvision.utils import make_grid  # here: importing torchvision doubles the start-up time
            t = make_grid(t, nrow=int(math.sqrt(t.size(0))), normalize=False)
        if t.dim() == 3:
            img = t.numpy().transpose(1, 2, 0)
            if img.shape[2] == 1:
                img = img[..., 0]
            elif rgb2bgr:
                img = img[..., ::-1]
        elif t.dim() == 2:
            img = t.numpy()
        else:
            raise ValueError(f'Expected a 2D, 3D or 4D tensor, got {t.dim()} dimensions.')
        if out_type == np.uint8:
            img = (img * 255.0).round()
        return np.ascontiguousarray(img.astype(out_type))

    if isinstance(tensor, list):
        images = [_one(t) for t in tensor]
        return images[0] if len(images) == 1 else images
    return _one(tensor)


def tensor2img_fast(tensor: torch.Tensor, rgb2bgr: bool = True, min_max: tuple[float, float] = (0, 1)) -> np.ndarray:
    """BasicSR's uint8 shortcut for one (1, C, H, W) tensor: :func:`tensor2img` (which rounds where BasicSR's
    shortcut truncated)."""
    return tensor2img(tensor, rgb2bgr=rgb2bgr, out_type=np.uint8, min_max=min_max)


def crop_border(imgs: np.ndarray | list[np.ndarray], crop_border: int) -> np.ndarray | list[np.ndarray]:
    """Remove ``crop_border`` pixels from each edge of HWC/HW image(s)."""
    border = crop_border
    if border == 0:
        return imgs
    if isinstance(imgs, list):
        return [img[border:-border, border:-border, ...] for img in imgs]
    return imgs[border:-border, border:-border, ...]
