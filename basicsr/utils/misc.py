"""Small helpers shared across the package: file scanning, timestamps, seeding, folder rotation, folders written
all at once, and BasicSR's experiment-folder helpers for plug-in code."""
import contextlib
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from basicsr.utils.dist_util import master_only
from basicsr.utils.run_lock import refuse_if_locked

IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


def scandir(dir_path: str | os.PathLike, suffix: str | tuple[str, ...] | None = None, recursive: bool = False,
            full_path: bool = False) -> Iterator[str]:
    """Yield the files below ``dir_path`` (sorted, hidden files skipped), relative to it unless ``full_path``.

    ``suffix`` filters by ending, case-insensitively.
    """
    root = Path(dir_path)
    if not root.is_dir():
        raise FileNotFoundError(f'{dir_path}: folder not found.')
    suffixes = (suffix,) if isinstance(suffix, str) else suffix
    suffixes = tuple(s.lower() for s in suffixes) if suffixes else None
    pattern = '**/*' if recursive else '*'
    for path in sorted(root.glob(pattern)):
        rel = path.relative_to(root)
        if any(part.startswith('.') for part in rel.parts) or not path.is_file():
            continue
        if suffixes and not path.name.lower().endswith(suffixes):
            continue
        yield str(path) if full_path else rel.as_posix()


def scan_images(dir_path: str | os.PathLike, recursive: bool = False, full_path: bool = False) -> list[str]:
    """The image files below ``dir_path`` (see :data:`IMG_EXTENSIONS`), sorted."""
    return list(scandir(dir_path, IMG_EXTENSIONS, recursive=recursive, full_path=full_path))


def get_time_str() -> str:
    return time.strftime('%Y%m%d_%H%M%S', time.localtime())


def mkdir_and_rename(path: str | os.PathLike) -> None:
    """Create ``path``; if it exists, first move it aside to ``<path>_archived_<time>`` so nothing is lost.

    A folder another live run holds (:mod:`basicsr.utils.run_lock`) is never moved: one RunLockError names that run.
    """
    path = Path(path)
    if path.exists():
        refuse_if_locked(path, 'move it aside')
        archived = path.with_name(f'{path.name}_archived_{get_time_str()}')
        number = 1
        while archived.exists():  # two archives within a second
            archived, number = path.with_name(f'{path.name}_archived_{get_time_str()}_{number}'), number + 1
        path.rename(archived)
    path.mkdir(parents=True)


@master_only
def make_exp_dirs(opt: dict[str, Any]) -> None:
    """Create the folders of ``opt['path']`` as BasicSR does (rank 0 only): the run's root (``experiments_root``
    when ``opt['is_train']``, else ``results_root``) moved aside if it exists, then the folders below it."""
    paths = opt['path']
    mkdir_and_rename(paths['experiments_root' if opt['is_train'] else 'results_root'])
    for key in ('models', 'training_states', 'log', 'visualization'):
        if paths.get(key):
            Path(paths[key]).mkdir(parents=True, exist_ok=True)


def check_resume(opt: dict[str, Any], resume_iter: int) -> None:
    """When ``opt['path']['resume_state']`` is set, point ``path.pretrain_network_<x>`` of every ``network_<x>``
    at ``models/net_<x>_<resume_iter>.pth`` (BasicSR's way of resuming networks; names in
    ``path.ignore_resume_networks`` keep their pretrained path)."""
    paths = opt['path']
    if not paths.get('resume_state'):
        return
    from basicsr.utils.logger import get_root_logger
    logger = get_root_logger()
    ignored = paths.get('ignore_resume_networks') or ()
    for network in (key for key in opt if key.startswith('network_') and key not in ignored):
        key = f'pretrain_{network}'
        if paths.get(key):
            logger.info(f'Resuming: path.{key} ({paths[key]}) is replaced by the checkpoint of iteration '
                        f'{resume_iter}.')
        paths[key] = os.path.join(paths['models'], f"net_{network.removeprefix('network_')}_{resume_iter}.pth")
        logger.info(f'Resuming: path.{key} set to {paths[key]}.')


def set_random_seed(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def random_state_kept() -> Iterator[None]:
    """Run a block without moving the global random generators (Python, numpy, torch CPU and CUDA).

    For validation inside training: creating a DataLoader iterator draws from torch's generator, so a validation
    right after a checkpoint would make a run resumed from that checkpoint draw different numbers (dropout,
    drop-path) from the run that was not interrupted.
    """
    python, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng():
            yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy_state)


def use_deterministic_algorithms() -> None:
    """Make every kernel deterministic, so that a run (and a resumed run) repeats exactly.

    cuBLAS needs a fixed workspace for that; cuDNN's autotuner is turned off because it may pick different
    algorithms from run to run.
    """
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def current_umask() -> int:
    """The process's file-creation mask (reading it means setting it: set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sizeof_fmt(size: float, suffix: str = 'B') -> str:
    """Human-readable byte count, e.g. ``1.5 MiB``."""
    for unit in ('', 'Ki', 'Mi', 'Gi', 'Ti'):
        if abs(size) < 1024.0:
            return f'{size:3.1f} {unit}{suffix}'
        size /= 1024.0
    return f'{size:3.1f} Pi{suffix}'


@contextlib.contextmanager
def folder_written_atomically(target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target`` to fill; when the block ends normally it becomes ``target`` (an
    existing ``target`` is replaced only then), when it fails it is removed. So ``target`` is never partial."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{target.name}.tmp-', dir=target.parent))
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes owner-only folders; use what mkdir would
        yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f'.{target.name}.old-', dir=target.parent))
            target.rename(old / target.name)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
