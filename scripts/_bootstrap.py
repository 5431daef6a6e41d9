"""Shared plumbing of the data scripts.

Importing this module makes ``basicsr`` importable when a script runs as ``python scripts/X.py`` from a source
checkout (the repository root goes on ``sys.path`` only if the package cannot be found otherwise).
:func:`input_images` lists the images of an ``--input`` folder, :func:`parallel_map` runs a per-image function
over a process pool with a progress bar; :func:`run` is the scripts' entry point.
"""
import importlib.util
import sys
from multiprocessing import Pool
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

if importlib.util.find_spec('basicsr') is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tqdm import tqdm  # noqa: E402

from basicsr.utils.errors import BasicSRError  # noqa: E402
from basicsr.utils.misc import scan_images  # noqa: E402

T = TypeVar('T')
R = TypeVar('R')


def refuse_existing_output(path: Path, overwrite: bool, flag: str = '--output') -> None:
    """Exit with a message naming ``flag`` when ``path`` exists and ``--overwrite`` was not given."""
    if path.exists() and not overwrite:
        raise SystemExit(f'{flag}: {path} exists; pass --overwrite to replace it.')


def input_images(folder: Path) -> list[str]:
    """The image paths below ``folder`` (recursively, relative to it); exits with a message naming ``--input``
    when the folder is missing or holds no images."""
    if not folder.is_dir():
        raise SystemExit(f'--input: folder {folder} not found.')
    rel_paths = scan_images(folder, recursive=True)
    if not rel_paths:
        raise SystemExit(f'--input: no images in {folder}.')
    return rel_paths


def parallel_map(func: Callable[[T], R], items: Iterable[T], n_thread: int, desc: str,
                 total: int | None = None) -> Iterator[R]:
    """Yield ``func(item)`` for every item, in completion order, using ``n_thread`` processes (inline when 1).

    ``func`` must be picklable (a module-level function or a ``functools.partial`` of one).
    """
    with tqdm(total=total, unit='img', desc=desc) as bar:
        if n_thread <= 1:
            for item in items:
                yield func(item)
                bar.update()
            return
        with Pool(n_thread) as pool:
            for result in pool.imap_unordered(func, items):
                yield result
                bar.update()


def run(main: Callable[[], int]) -> None:
    """Exit with ``main()``'s status; an expected failure (bad data or arguments, a file that exists or is missing)
    becomes a one-line message on stderr and status 1 instead of a traceback."""
    try:
        status = main()
    except (BasicSRError, OSError) as err:
        sys.exit(f'error: {err}')
    sys.exit(status)
