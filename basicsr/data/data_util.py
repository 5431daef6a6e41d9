"""File lists of datasets (folders, meta-info files, LMDB) and the per-sample randomness of datasets."""
import os
import random
from pathlib import Path
from typing import Any

from basicsr.data.transforms import mod_crop  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.errors import DataError
from basicsr.utils.image_header import image_size
from basicsr.utils.img_util import img2tensor  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.lmdb_util import read_lmdb_meta_info
from basicsr.utils.misc import scan_images
from basicsr.utils.misc import scandir  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.path_policy import inside

SampleKey = int | tuple[int, str]
_HEADER_BYTES = 1 << 16  # enough for the size fields of every format image_size reads


def split_sample_key(key: SampleKey) -> tuple[int, random.Random]:
    """A dataset index plus the random generator of that sample.

    The training sampler yields ``(index, seed)`` so augmentation is reproducible whatever the number of workers;
    a plain int (validation, direct indexing) gets a generator seeded from the OS.
    """
    if isinstance(key, tuple):
        index, seed = key
        return index, random.Random(seed)
    return key, random.Random()


def is_lmdb(path: str | os.PathLike) -> bool:
    return str(path).rstrip('/').endswith('.lmdb')


def _lmdb_keys(lmdb_path: str) -> list[str]:
    return [key for key, _, _ in read_lmdb_meta_info(lmdb_path)]


def single_paths(folder: str, meta_info_file: str | None = None) -> list[str]:
    """Image paths of one folder (or LMDB keys of one ``.lmdb``), optionally restricted to a meta-info list."""
    if is_lmdb(folder):
        return _lmdb_keys(folder)
    if meta_info_file:
        return [str(Path(folder) / name) for name in read_meta_info_names(meta_info_file, folder)]
    try:
        return scan_images(folder, recursive=True, full_path=True)
    except FileNotFoundError as err:
        raise DataError(str(err)) from err
    except OSError as err:  # e.g. /proc: entries that cannot be listed
        raise DataError(f'{folder}: cannot list the images of this folder ({err.strerror or err}: '
                        f'{err.filename}); is it a data folder?') from None


def smallest_image_size(folder: str) -> tuple[int, int] | None:
    """``(height, width)`` of the smallest image of a folder (from the file headers) or LMDB (from its meta info),
    for checks before a run; None when there is none or a header is unreadable (reading the image says why)."""
    if is_lmdb(folder):
        sizes = [(h, w) for _, (h, w, _), _ in read_lmdb_meta_info(folder)]
    else:
        sizes = []
        for path in single_paths(folder):
            with open(path, 'rb') as file:
                head = file.read(4096)
                size = image_size(head) or image_size(head + file.read(_HEADER_BYTES))  # JPEG: EXIF first
            if size is None:
                return None
            sizes.append(size[::-1])
    return min(sizes, key=min, default=None)


def meta_info_lines(meta_info_file: str) -> list[tuple[int, str]]:
    """``(line number, line)`` for the non-blank lines of a meta-info file; an unreadable one is a DataError."""
    try:
        lines = Path(meta_info_file).read_text(encoding='utf-8').splitlines()
    except OSError as err:
        raise DataError(f'{meta_info_file}: cannot read the meta-info file ({err.strerror or err}).') from err
    except UnicodeDecodeError as err:
        raise DataError(f'{meta_info_file}: not a UTF-8 text file (byte {err.start}); a meta-info file lists '
                        'image names, one per line.') from None
    return [(line_no, line) for line_no, line in enumerate(lines, 1) if line.strip()]


def read_meta_info_names(meta_info_file: str, folder: str) -> list[str]:
    """The first field of each line of a meta-info file (file names relative to ``folder``, which they may not
    leave: :func:`~basicsr.utils.path_policy.inside`), all checked to exist."""
    names = []
    for line_no, line in meta_info_lines(meta_info_file):
        name = line.split()[0]
        if not inside(folder, name, f'{meta_info_file}, line {line_no}').is_file():
            raise DataError(f'{meta_info_file}, line {line_no}: {name} does not exist in {folder}.')
        names.append(name)
    return names


def paired_paths(gt_folder: str, lq_folder: str, filename_tmpl: str = '{}',
                 meta_info_file: str | None = None) -> list[dict[str, str]]:
    """``[{'gt_path': ..., 'lq_path': ...}]`` pairing each GT with the LQ named ``filename_tmpl.format(stem)``.

    Folders, a meta-info file (names relative to the GT folder) or two LMDBs (then the paths are LMDB keys).
    A GT without its LQ (or, for folders, an LQ without its GT) is a DataError naming it.
    """
    if is_lmdb(gt_folder) != is_lmdb(lq_folder):
        raise DataError(f'{gt_folder} and {lq_folder}: both or neither must be LMDB folders (.lmdb).')
    if is_lmdb(gt_folder):
        gt_keys, lq_keys = _lmdb_keys(gt_folder), set(_lmdb_keys(lq_folder))
        pairs = []
        for key in gt_keys:
            lq_key = filename_tmpl.format(key)
            if lq_key not in lq_keys:
                raise DataError(f"{lq_folder}: has no key '{lq_key}' for GT key '{key}' of {gt_folder}.")
            pairs.append({'gt_path': key, 'lq_path': lq_key})
        return pairs

    gt_paths = single_paths(gt_folder, meta_info_file)
    lq_files = {Path(p).relative_to(lq_folder).as_posix(): p for p in single_paths(lq_folder)}
    pairs, used = [], set()
    for gt_path in gt_paths:
        rel = Path(gt_path).relative_to(gt_folder)
        lq_name = (rel.parent / f'{filename_tmpl.format(rel.stem)}{rel.suffix}').as_posix()
        if lq_name not in lq_files:
            raise DataError(f'{gt_path}: no LQ image {lq_name} in {lq_folder} '
                            f"(LQ names are filename_tmpl '{filename_tmpl}' applied to the GT name).")
        used.add(lq_name)
        pairs.append({'gt_path': gt_path, 'lq_path': lq_files[lq_name]})
    if meta_info_file is None and len(used) != len(lq_files):
        extra = sorted(set(lq_files) - used)[0]
        raise DataError(f'{Path(lq_folder) / extra}: LQ image without a GT image in {gt_folder}.')
    return pairs


def lmdb_backend_options(io_backend: dict[str, Any], folders: dict[str, str]) -> dict[str, Any]:
    """The ``io_backend`` options with the LMDB paths of ``folders`` (client key -> ``.lmdb`` folder) added."""
    opts = dict(io_backend)
    if opts.get('type') == 'lmdb':
        for key, folder in folders.items():
            if not is_lmdb(folder):
                raise DataError(f'{folder}: io_backend type is lmdb but this is not a .lmdb folder.')
        opts['db_paths'] = list(folders.values())
        opts['client_keys'] = list(folders)
    return opts


# BasicSR's path helpers (``basicsr.data.data_util``), for plug-in datasets; the lists come from the functions above.
# ``folders`` and ``keys`` are ``[input (LQ) folder, GT folder]`` and their names, e.g. ``['lq', 'gt']``.

def paired_paths_from_folder(folders: list[str], keys: list[str], filename_tmpl: str) -> list[dict[str, str]]:
    """``[{'<input key>_path': ..., '<gt key>_path': ...}]`` pairing the images of two folders by name."""
    (input_folder, gt_folder), (input_key, gt_key) = _pair(folders, 'folders'), _pair(keys, 'keys')
    return _renamed(paired_paths(gt_folder, input_folder, filename_tmpl), input_key, gt_key)


def paired_paths_from_meta_info_file(folders: list[str], keys: list[str], meta_info_file: str,
                                     filename_tmpl: str) -> list[dict[str, str]]:
    """As :func:`paired_paths_from_folder`, for the GT images a meta-info file lists."""
    (input_folder, gt_folder), (input_key, gt_key) = _pair(folders, 'folders'), _pair(keys, 'keys')
    return _renamed(paired_paths(gt_folder, input_folder, filename_tmpl, meta_info_file), input_key, gt_key)


def paired_paths_from_lmdb(folders: list[str], keys: list[str]) -> list[dict[str, str]]:
    """As :func:`paired_paths_from_folder` for two ``.lmdb`` databases: the paths are the (shared) LMDB keys."""
    (input_folder, gt_folder), (input_key, gt_key) = _pair(folders, 'folders'), _pair(keys, 'keys')
    if not (is_lmdb(input_folder) and is_lmdb(gt_folder)):
        raise DataError(f'{input_folder} and {gt_folder}: both must be LMDB folders (.lmdb).')
    return _renamed(paired_paths(gt_folder, input_folder), input_key, gt_key)


def paths_from_folder(folder: str) -> list[str]:
    """The image paths of ``folder`` (as the datasets list them: images only, subfolders included, sorted)."""
    return single_paths(folder)


def paths_from_lmdb(folder: str) -> list[str]:
    """The keys of the ``.lmdb`` database ``folder``."""
    if not is_lmdb(folder):
        raise DataError(f'{folder}: not an LMDB folder (.lmdb).')
    return _lmdb_keys(folder)


def _pair(items: list[str], name: str) -> list[str]:
    if len(items) != 2:
        raise ValueError(f'{name} must be [input, gt], got {len(items)} items: {items}.')
    return list(items)


def _renamed(pairs: list[dict[str, str]], input_key: str, gt_key: str) -> list[dict[str, str]]:
    return [{f'{input_key}_path': pair['lq_path'], f'{gt_key}_path': pair['gt_path']} for pair in pairs]
