"""Where the weight files of pretrained networks are looked for; nothing is ever downloaded.

A file named by an option is the only place looked in. Otherwise the candidates are, in order: the torch hub cache
(``<torch hub dir>/checkpoints``, where torchvision and ``torch.hub`` keep their downloads), basicsr's own caches
(``<torch hub dir>/basicsr`` and ``~/.cache/basicsr``) and Python packages that ship the file (found without importing
them). A file found nowhere is one CheckpointError naming every place looked in, the option to set, and where the
file can be had.
"""
import contextlib
import importlib.util
from pathlib import Path
from typing import Iterator

import torch

from basicsr.utils.errors import CheckpointError

Place = tuple[Path, str]  # a candidate file and where it comes from, as the error message names it


def hub_checkpoint(file_name: str) -> Place:
    """``file_name`` in the torch hub cache (``$TORCH_HOME/hub/checkpoints``, by default ~/.cache/torch/...)."""
    return Path(torch.hub.get_dir()) / 'checkpoints' / file_name, 'torch hub cache'


def basicsr_caches(file_name: str) -> list[Place]:
    """``file_name`` in ``<torch hub dir>/basicsr`` and ``~/.cache/basicsr``."""
    return [(Path(torch.hub.get_dir()) / 'basicsr' / file_name, 'basicsr folder of the torch hub dir'),
            (Path.home() / '.cache' / 'basicsr' / file_name, 'user cache')]


def package_file(package: str, *parts: str) -> list[Place]:
    """The file ``parts`` inside the installed top-level ``package``; no place when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    return [(Path(next(iter(spec.submodule_search_locations))).joinpath(*parts), f'{package} package')]


def find_weights(what: str, explicit: str | None, option: str, places: list[Place], how: str) -> Path:
    """The first existing file among ``places``, or ``explicit`` alone when given (the value of ``option``).

    ``what`` names the weights in the error, ``how`` says where to get them.
    """
    if explicit:
        places = [(Path(explicit).expanduser(), option)]
    for path, _ in places:
        if path.is_file():
            return path
    looked = '; '.join(f'{path} ({source})' for path, source in places)
    raise CheckpointError(f'{what} not found. Looked in: {looked}. Nothing is downloaded: {how}; or set the option '
                          f'{option} to the file.')


@contextlib.contextmanager
def fixed_seed(seed: int = 0) -> Iterator[None]:
    """Run the block with the CPU random generator seeded, then restore its state: networks built inside get the
    same random weights in every process and run, and the training's random stream is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
