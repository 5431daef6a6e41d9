"""Datasets and data loading. Every ``*_dataset.py`` file here is imported so its datasets register."""
import copy
import random
import zlib
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from basicsr.data.prefetcher import CPUPrefetcher, CUDAPrefetcher
from basicsr.data.sampler import EnlargedSampler, ShardSampler
from basicsr.utils.dist_util import get_dist_info
from basicsr.utils.errors import BasicSRError
from basicsr.utils.logger import get_root_logger  # (also: BasicSR 1.4.2 exposes it here)
from basicsr.utils.misc import scandir  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.opt_dict import accept_opt_dict
from basicsr.utils.option_schema import DATASET
from basicsr.utils.registry import DATASET_REGISTRY, import_modules
from basicsr.utils.threads import cap_dataloader_workers

import_modules(__file__, __name__, '_dataset')


def _taking_opt_dict(cls: type) -> type:
    """``cls`` made callable BasicSR's way, ``cls(opt)``, if its constructor takes keyword arguments."""
    return accept_opt_dict(cls, DATASET.keys, DATASET.injected)


for _, _dataset_cls in DATASET_REGISTRY:  # so that e.g. PairedImageDataset(opt) works, as in BasicSR
    _taking_opt_dict(_dataset_cls)


def build_dataset(dataset_opt: dict[str, Any]) -> Dataset:
    """Build the dataset of one ``datasets.<phase>`` option section as BasicSR does: ``cls(opt)`` with (a copy of)
    the whole section, ``phase`` and ``scale`` included. Datasets declaring their keys as keyword arguments get
    them unpacked, the data-loader keys left out (:func:`~basicsr.utils.opt_dict.accept_opt_dict`)."""
    opt = copy.deepcopy(dataset_opt)
    cls = DATASET_REGISTRY.get(opt.get('type'), key_path=f"datasets.{opt.get('phase', '')}.type")
    dataset = _taking_opt_dict(cls)(opt)
    return dataset if cls.__module__.startswith('basicsr.') else SeededIndexDataset(dataset)


class SeededIndexDataset(Dataset):
    """A third-party (BasicSR plug-in) dataset, which takes plain int indices and draws from the global ``random``
    and ``numpy.random`` generators: the training sampler's ``(index, seed)`` keys become the index, with those
    generators seeded from the sample's seed first, so its augmentation is reproducible and independent of the
    number of workers, as the project's own datasets' is. Attributes are the wrapped dataset's."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            key, seed = key
            seed = zlib.crc32(str(seed).encode())
            random.seed(seed)
            np.random.seed(seed)
        return self.dataset[key]

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        if name == 'dataset':  # not set yet (unpickling in a worker)
            raise AttributeError(name)
        return getattr(self.dataset, name)


def _seed_worker(worker_id: int) -> None:
    """Seed the global generators of a worker (datasets draw from per-sample generators; this covers the rest)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


class OneLineErrorDataLoader(DataLoader):
    """A DataLoader whose workers' errors reach the caller as they were raised.

    PyTorch re-raises an exception from a worker process as a new one of the same type whose message is
    "Caught X in DataLoader worker process N." followed by the worker's whole traceback. For the project's own
    errors (:class:`BasicSRError`), whose message already names the file at fault, that message is put back, so a
    bad image gives the same one line whether it was read in a worker or in the main process.
    """

    def __iter__(self) -> Iterator[Any]:
        iterator = super().__iter__()
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except BasicSRError as err:
                err.args = (original_message(err),)
                raise err from None
            yield batch


def original_message(err: BaseException) -> str:
    """The message of an exception re-raised by PyTorch from a DataLoader worker as it was raised in the worker
    (the last ``module.Type: message`` of the traceback text PyTorch puts in the message); others unchanged."""
    message = str(err)
    if not message.startswith('Caught ') or 'DataLoader worker' not in message.split('\n', 1)[0]:
        return message
    prefix = f'\n{type(err).__module__}.{type(err).__qualname__}: '
    start = message.rfind(prefix)
    return message[start + len(prefix):].rstrip('\n') if start >= 0 else message


def build_dataloader(dataset: Dataset, dataset_opt: dict[str, Any], sampler: EnlargedSampler | None = None,
                     seed: int = 0) -> DataLoader:
    """A DataLoader for training (batches from ``sampler``) or validation/testing (one whole image at a time;
    in distributed runs, this rank's share of the images)."""
    phase = dataset_opt['phase']
    generator = torch.Generator().manual_seed(seed)
    if phase == 'train':
        workers = cap_dataloader_workers(dataset_opt['num_worker_per_gpu'], logger=get_root_logger(),
                                         where=f"datasets.{dataset_opt['phase']}.num_worker_per_gpu")
        return OneLineErrorDataLoader(
            dataset, batch_size=dataset_opt['batch_size_per_gpu'], sampler=sampler, drop_last=True,
            num_workers=workers, pin_memory=dataset_opt['pin_memory'] and torch.cuda.is_available(),
            persistent_workers=dataset_opt['persistent_workers'] and workers > 0, worker_init_fn=_seed_worker,
            generator=generator)
    rank, world_size = get_dist_info()
    return OneLineErrorDataLoader(dataset, batch_size=1, sampler=ShardSampler(len(dataset), world_size, rank),
                                  num_workers=0)


def build_prefetcher(loader: DataLoader, dataset_opt: dict[str, Any],
                     device: torch.device) -> CPUPrefetcher | CUDAPrefetcher:
    """On a GPU the CUDA prefetcher (unless ``prefetch_mode: cpu``), which overlaps the copy of the next batch
    with the current step; the CPU one otherwise."""
    if dataset_opt.get('prefetch_mode') != 'cpu' and device.type == 'cuda':
        return CUDAPrefetcher(loader, device)
    return CPUPrefetcher(loader)


__all__ = ['build_dataset', 'build_dataloader', 'build_prefetcher', 'EnlargedSampler', 'DATASET_REGISTRY']
