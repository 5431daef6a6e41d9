"""Writing and describing LMDB image databases in BasicSR's layout.

A database is a folder ``X.lmdb`` holding LMDB's own ``data.mdb`` and ``lock.mdb`` plus ``meta_info.txt``, one line
per image: ``{key}.png ({h},{w},{c}) {compress_level}``. Keys are ASCII (file names without extension, '/' allowed);
values are the images re-encoded as PNG, so they decode pixel-identical to what :func:`imread` gives with
``flag='unchanged'`` (grey images keep one channel). :class:`basicsr.data.file_client.LmdbBackend` reads them.

Images go through :func:`imread`, so 16-bit sources are stored as 8-bit.
"""
import functools
import json
import os
import re
import signal
import subprocess
import sys
from contextlib import closing
from multiprocessing import Pool
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import lmdb
from tqdm import tqdm

from basicsr.utils import lmdb_check
from basicsr.utils.errors import DataError, OptionError
from basicsr.utils.img_util import imread
from basicsr.utils.misc import folder_written_atomically

META_INFO_FILE = 'meta_info.txt'
_META_LINE = re.compile(r'^(?P<key>.+)\.png \((?P<h>\d+),(?P<w>\d+),(?P<c>\d+)\) (?P<level>\d+)$')
_MAP_SIZE_MARGIN = 2  # times the estimated size; the map also grows on demand
_MAP_SIZE_FLOOR = 1 << 24  # 16 MiB, room for LMDB's own pages
_CHECK_TIMEOUT_S = 600

MetaEntry = tuple[str, tuple[int, int, int], int]


def encode_png(path: str | os.PathLike, compress_level: int) -> tuple[bytes, tuple[int, int, int]]:
    """Read the image at ``path`` (channels as stored) and re-encode it as PNG; returns the bytes and (h, w, c)."""
    img = imread(path, flag='unchanged')
    ok, buf = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise DataError(f'{path}: OpenCV could not encode the image as PNG.')
    h, w = img.shape[:2]
    return buf.tobytes(), (h, w, 1 if img.ndim == 2 else img.shape[2])


def check_keys(img_path_list: Sequence[str], keys: Sequence[str]) -> None:
    """Raise :class:`DataError` unless keys are one per image, unique, printable ASCII and not empty."""
    if len(img_path_list) != len(keys):
        raise OptionError(f'keys: got {len(keys)} keys for {len(img_path_list)} images (need one per image).')
    seen: dict[str, str] = {}
    for path, key in zip(img_path_list, keys):
        if not key or not key.isascii() or not key.isprintable():
            raise DataError(f'{path}: LMDB key {key!r} is not a non-empty printable ASCII string; '
                            'rename the file (keys are file names without extension).')
        if key in seen:
            raise DataError(f"{path}: LMDB key '{key}' is already used by {seen[key]}; keys must be unique "
                            '(two files differing only in extension?).')
        seen[key] = path


def estimate_map_size(first_img_path: str | os.PathLike, num_imgs: int) -> int:
    """LMDB map size for ``num_imgs`` images like the first one: its raw size times the count, with margin."""
    img = imread(first_img_path, flag='unchanged')
    return img.nbytes * num_imgs * _MAP_SIZE_MARGIN + _MAP_SIZE_FLOOR


def format_meta_line(key: str, shape: tuple[int, int, int], compress_level: int) -> str:
    """One ``meta_info.txt`` line (without newline)."""
    h, w, c = shape
    return f'{key}.png ({h},{w},{c}) {compress_level}'


def read_lmdb_meta_info(lmdb_path: str | os.PathLike) -> list[MetaEntry]:
    """Parse ``meta_info.txt`` of an LMDB folder into ``(key, (h, w, c), compress_level)`` tuples, in file order."""
    meta_path = Path(lmdb_path) / META_INFO_FILE
    try:
        lines = meta_path.read_text(encoding='ascii').splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f'{meta_path}: cannot read the LMDB meta info ({err}).') from err
    entries = []
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _META_LINE.match(line.rstrip())
        if match is None:
            raise DataError(f"{meta_path}:{line_no}: expected '<key>.png (<h>,<w>,<c>) <compress_level>', "
                            f'got {line!r}.')
        shape = (int(match['h']), int(match['w']), int(match['c']))
        entries.append((match['key'], shape, int(match['level'])))
    return entries


def check_lmdb_structure(lmdb_path: str | os.PathLike) -> None:
    """DataError naming the database unless every record of the LMDB folder ``lmdb_path`` can be read and is the
    PNG image of the shape its ``meta_info.txt`` line declares, and the data file is complete.

    The records are walked by :mod:`basicsr.utils.lmdb_check` in a separate process, so that a damaged page that
    makes liblmdb crash (SIGSEGV, SIGBUS) is reported here in one line. Done once per version of the files
    (path, size and modification times) in a process.
    """
    files = [Path(lmdb_path) / name for name in ('data.mdb', META_INFO_FILE)]
    try:
        stamps = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    except OSError as err:
        raise DataError(f'{lmdb_path}: not an LMDB database folder ({err.strerror}: {err.filename}).') from None
    _check_structure(os.path.realpath(lmdb_path), stamps)


@functools.lru_cache(maxsize=64)
def _check_structure(path: str, stamps: tuple) -> None:
    expected = {key: list(shape) for key, shape, _ in read_lmdb_meta_info(path)}
    request = json.dumps({'path': path, 'expected': expected})
    try:
        result = subprocess.run([sys.executable, '-I', lmdb_check.__file__], input=request, capture_output=True,
                                text=True, timeout=_CHECK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise DataError(f'{path}: checking the LMDB took over {_CHECK_TIMEOUT_S} s; is the file on a hung '
                        'network drive?') from None
    if result.returncode < 0:
        name = signal.Signals(-result.returncode).name
        raise DataError(f'{path}: damaged LMDB: reading it crashes liblmdb ({name}; seen in a separate checking '
                        'process, nothing was loaded); rebuild it with scripts/create_lmdb.py.')
    try:
        problems = json.loads(result.stdout)
    except ValueError:
        last = (result.stderr.strip().splitlines() or ['no output'])[-1]
        raise DataError(f'{path}: the LMDB check failed ({last}).') from None
    if problems:
        more = f' ({len(problems) - 1} more problems)' if len(problems) > 1 else ''
        raise DataError(f'{problems[0]}{more}')


class _BatchWriter:
    """Puts values in write transactions of ``batch`` items; when the map is full it doubles it and redoes the
    uncommitted items (fetched again with ``reload``), so a too-small map size never loses work."""

    def __init__(self, env: lmdb.Environment, batch: int, reload: Callable[[int], bytes]) -> None:
        self._env, self._batch, self._reload = env, batch, reload
        self._pending: list[tuple[int, bytes]] = []  # (index, key) not yet committed
        self._txn = env.begin(write=True)

    def put(self, index: int, key: bytes, value: bytes) -> None:
        try:
            self._txn.put(key, value)
        except lmdb.MapFullError:
            self._grow_and_redo()
            self.put(index, key, value)
            return
        self._pending.append((index, key))
        if len(self._pending) >= self._batch:
            self.commit()

    def commit(self) -> None:
        self._txn.commit()
        self._pending.clear()
        self._txn = self._env.begin(write=True)

    def close(self, success: bool) -> None:
        if success:
            self._txn.commit()
        else:
            self._txn.abort()

    def _grow_and_redo(self) -> None:
        while True:
            self._txn.abort()
            self._env.set_mapsize(self._env.info()['map_size'] * 2)
            self._txn = self._env.begin(write=True)
            try:
                for index, key in self._pending:
                    self._txn.put(key, self._reload(index))
                return
            except lmdb.MapFullError:
                continue


def _encoded_images(paths: Sequence[str], compress_level: int, n_thread: int,
                    multiprocessing_read: bool) -> Iterator[tuple[bytes, tuple[int, int, int]]]:
    """Yield the encoded images in order, read and encoded by a process pool when ``multiprocessing_read``."""
    encode = functools.partial(encode_png, compress_level=compress_level)
    if not multiprocessing_read or n_thread <= 1:
        yield from map(encode, paths)
        return
    with Pool(n_thread) as pool:
        yield from pool.imap(encode, paths, chunksize=4)


def _write_database(tmp_path: Path, paths: Sequence[str], keys: Sequence[str], encoded: Iterable,
                    compress_level: int, batch: int, map_size: int, desc: str | None) -> list[MetaEntry]:
    """Fill a new LMDB at ``tmp_path`` and write its meta info; returns the meta entries (``desc`` None: no bar)."""
    meta: list[MetaEntry] = []
    env = lmdb.open(str(tmp_path), map_size=map_size)
    writer = _BatchWriter(env, batch, reload=lambda i: encode_png(paths[i], compress_level)[0])
    success = False
    try:
        with tqdm(total=len(paths), unit='img', desc=desc, disable=desc is None) as bar:
            for index, (key, (value, shape)) in enumerate(zip(keys, encoded)):
                writer.put(index, key.encode('ascii'), value)
                meta.append((key, shape, compress_level))
                bar.update()
        success = True
    finally:
        writer.close(success)
        env.close()
    lines = [format_meta_line(*entry) for entry in meta]
    (tmp_path / META_INFO_FILE).write_text('\n'.join(lines) + '\n', encoding='ascii')
    return meta


def validate_lmdb_job(data_path: str | os.PathLike, lmdb_path: str | os.PathLike, img_path_list: Sequence[str],
                      keys: Sequence[str], batch: int = 5000, compress_level: int = 1, overwrite: bool = False) -> None:
    """Raise if :func:`make_lmdb_from_imgs` would refuse these arguments (checked before any work is done)."""
    lmdb_path = Path(lmdb_path)
    if not Path(data_path).is_dir():
        raise DataError(f'{data_path}: image folder not found.')
    if lmdb_path.suffix != '.lmdb':
        raise OptionError(f"lmdb_path: '{lmdb_path}' must end with '.lmdb'.")
    if lmdb_path.exists() and not overwrite:
        raise FileExistsError(f'{lmdb_path}: already exists; remove it or pass overwrite=True (--overwrite).')
    if not img_path_list:
        raise DataError(f'{data_path}: no images to put in {lmdb_path}.')
    if batch < 1:
        raise OptionError(f'batch: must be at least 1, got {batch}.')
    if not 0 <= compress_level <= 9:
        raise OptionError(f'compress_level: PNG compression must be in 0..9, got {compress_level}.')
    check_keys(img_path_list, keys)


def make_lmdb_from_imgs(data_path: str | os.PathLike, lmdb_path: str | os.PathLike, img_path_list: Sequence[str],
                        keys: Sequence[str], batch: int = 5000, compress_level: int = 1,
                        multiprocessing_read: bool = False, n_thread: int = 2, map_size: int | None = None,
                        overwrite: bool = False, progress: bool = True) -> list[MetaEntry]:
    """Write the images ``data_path/img_path_list[i]`` under ``keys[i]`` into a new LMDB folder ``lmdb_path``.

    Args:
        data_path: folder the image paths are relative to.
        lmdb_path: the database folder to create; must end with '.lmdb'.
        img_path_list: image paths relative to ``data_path``.
        keys: one ASCII key per image (conventionally the relative path without extension).
        batch: images per write transaction (commit interval).
        compress_level: PNG compression level 0-9 of the stored values.
        multiprocessing_read: read and encode images with a pool of ``n_thread`` processes.
        n_thread: pool size for ``multiprocessing_read``.
        map_size: LMDB map size in bytes; estimated from the first image when None. It grows when exceeded.
        overwrite: replace an existing ``lmdb_path`` (only after the new database is complete).
        progress: show a tqdm bar.

    The database is built in a temporary sibling folder and renamed at the end, so a failure never leaves a partial
    database under ``lmdb_path``. Returns the meta entries ``(key, (h, w, c), compress_level)``.
    """
    lmdb_path = Path(lmdb_path)
    validate_lmdb_job(data_path, lmdb_path, img_path_list, keys, batch, compress_level, overwrite)
    paths = [str(Path(data_path) / p) for p in img_path_list]
    if map_size is None:
        map_size = estimate_map_size(paths[0], len(paths))
    with folder_written_atomically(lmdb_path) as tmp_path, \
            closing(_encoded_images(paths, compress_level, n_thread, multiprocessing_read)) as encoded:
        desc = f'LMDB {lmdb_path.name}' if progress else None
        return _write_database(tmp_path, paths, keys, encoded, compress_level, batch, map_size, desc)
