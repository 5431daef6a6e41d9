"""Looking inside ``.npz`` and ``.pth`` files before loading them.

Both are zip archives, and a small file can hold records that expand to gigabytes (a deflated record of zeros, or
an ``.npy`` header that claims a huge shape). The functions here read only the zip directory and the ``.npy``
headers, so a loader can refuse a file from what it *would* allocate before any array is read. Every loader of these formats goes through here: NIQE's model and FID's
reference statistics (:func:`npz_arrays`), checkpoints (:func:`check_pth_size`, called by
:func:`basicsr.utils.checkpoint.load_checkpoint`).
"""
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch

from basicsr.utils.errors import CheckpointError, DataError

# A .pth's records are stored uncompressed by torch.save; a deflated one that expands past both of these is a bomb.
MAX_INFLATION = 64
MAX_INFLATED_BYTES = 64 << 20
# What a damaged or odd archive raises (RuntimeError: encrypted, or an unknown compression method)
_UNREADABLE = (OSError, EOFError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True)
class ArrayRecord:
    """One array of an ``.npz`` as its header declares it."""
    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int  # what reading it allocates
    stored_bytes: int  # the record's size in the archive (compressed or not)


def npz_records(path: str | Path, what: str) -> dict[str, ArrayRecord]:
    """The arrays of the ``.npz`` at ``path`` by name, from the zip directory and the ``.npy`` headers only.

    A DataError naming ``path`` (``what`` says what the file is for) when it is not a zip of ``.npy`` records, a
    header is unreadable, an array holds Python objects, or a record is shorter than its header's shape needs.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return {Path(info.filename).stem: _npy_record(archive, info) for info in archive.infolist()
                    if info.filename.endswith('.npy')}
    except _UNREADABLE as err:
        raise DataError(f'{path}: not a readable .npz file for {what} ({err}).') from None


def _npy_record(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> ArrayRecord:
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        shape, _, dtype = (np.lib.format.read_array_header_1_0(stream) if version == (1, 0)
                           else np.lib.format.read_array_header_2_0(stream))
    if dtype.hasobject:
        raise ValueError(f'{info.filename} holds Python objects')
    count = int(np.prod(shape, dtype=object))
    nbytes = count * dtype.itemsize
    if nbytes > info.file_size:
        raise ValueError(f'{info.filename} declares shape {shape} ({nbytes} bytes) but holds {info.file_size} bytes')
    return ArrayRecord(tuple(shape), dtype, nbytes, info.compress_size)


def npz_arrays(path: str | Path, shapes: Mapping[str, tuple[int, ...] | Callable[[tuple], str | None]],
               what: str) -> dict[str, np.ndarray]:
    """Read the arrays ``shapes`` names from the ``.npz`` at ``path`` as float64, after checking their headers.

    ``shapes[name]`` is the expected shape (a tuple), or a function of the declared shape returning an error text
    or None. Other arrays of the file are never read. A
    missing array, an unexpected shape or non-numbers are one DataError naming the file.
    """
    records = npz_records(path, what)
    missing = [name for name in shapes if name not in records]
    if missing:
        raise DataError(f"{path}: not {what}: missing {', '.join(missing)} (has {', '.join(records) or 'nothing'}).")
    for name, expected in shapes.items():
        record = records[name]
        problem = expected(record.shape) if callable(expected) else _shape_problem(record.shape, expected)
        if problem:
            raise DataError(f'{path}: {what}: {name} {problem}; not read.')
        if record.dtype.kind not in 'biuf':
            raise DataError(f'{path}: {what}: {name} holds {record.dtype}, not numbers; not read.')
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.array(data[name], dtype=np.float64) for name in shapes}
    except _UNREADABLE as err:
        raise DataError(f'{path}: not a readable .npz file for {what} ({err}).') from None


def _shape_problem(shape: tuple[int, ...], expected: tuple[int, ...]) -> str | None:
    if shape == expected:
        return None
    return f'has shape {shape}, expected {expected}'


# ----------------------------------------------------------------------------------------------------------- .pth
def pth_storage_bytes(path: str | Path) -> dict[str, tuple[int, int]]:
    """``{record name: (uncompressed bytes, stored bytes)}`` of the tensor storages of a zip ``.pth``; an empty
    dict for a legacy (non-zip) file."""
    if not zipfile.is_zipfile(path):
        return {}
    with zipfile.ZipFile(path) as archive:
        return {info.filename: (info.file_size, info.compress_size) for info in archive.infolist()
                if '/data/' in info.filename}


def check_pth_size(path: str | Path, max_bytes: int | None = None) -> None:
    """CheckpointError naming ``path`` when loading it would allocate more than ``max_bytes`` (None: no budget) or
    when a storage record is deflated to a small fraction of what it expands to (torch.save stores them as is)."""
    try:
        records = pth_storage_bytes(path)
    except _UNREADABLE as err:
        raise CheckpointError(f'{path}: not a readable PyTorch checkpoint ({err}).') from None
    for name, (size, stored) in records.items():
        if size > MAX_INFLATED_BYTES and size > MAX_INFLATION * max(stored, 1):
            raise CheckpointError(f'{path}: record {name} is compressed {size // max(stored, 1)}:1 and would expand '
                                  f'to {size / 2**20:.0f} MiB (torch.save never compresses); not loaded.')
    total = sum(size for size, _ in records.values())
    if max_bytes is not None and total > max_bytes:
        raise CheckpointError(f'{path}: its tensors take {total / 2**20:.1f} MiB, more than the '
                              f'{max_bytes / 2**20:.1f} MiB the network it is loaded into can use; not loaded '
                              '(a checkpoint of another, larger network?).')


def checkpoint_budget(network: torch.nn.Module) -> int:
    """The most bytes a checkpoint loaded into ``network`` may hold: two copies of its state (``params`` and
    ``params_ema``) plus 1 MiB for the rest."""
    own = sum(t.numel() * t.element_size() for t in network.state_dict().values())
    return 2 * own + (1 << 20)
