"""The training sampler: shuffled, enlarged epochs, split across ranks, resumable mid-epoch."""
import math
from typing import Iterator

import torch
from torch.utils.data import Sampler


class EnlargedSampler(Sampler):
    """Yields ``(index, sample_seed)`` for one rank's share of an epoch of ``len(dataset) * ratio`` samples.

    The order is a permutation seeded by ``(seed, epoch)``; each sample's augmentation seed is derived from the
    run seed, the epoch and the sample's position in the epoch. So a run resumed mid-epoch
    (``set_epoch(epoch, skip=n)``) sees exactly the samples an uninterrupted run would, whatever the number of
    dataloader workers.

    Args:
        dataset_size: number of items in the dataset.
        num_replicas / rank: distributed world size and this process's rank.
        ratio: ``dataset_enlarge_ratio``, to make short datasets give longer epochs.
        shuffle: random order (otherwise sequential).
        seed: the run's ``manual_seed``.
    """

    def __init__(self, dataset_size: int, num_replicas: int = 1, rank: int = 0, ratio: int = 1, shuffle: bool = True,
                 seed: int = 0) -> None:
        self.dataset_size = dataset_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.skip = 0
        self.num_samples = math.ceil(dataset_size * ratio / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Start epoch ``epoch``, leaving out this rank's first ``skip`` samples (already used before a resume)."""
        self.epoch = epoch
        self.skip = skip

    def __iter__(self) -> Iterator[tuple[int, str]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.total_size, generator=generator).tolist()
        else:
            order = list(range(self.total_size))
        positions = range(self.rank, self.total_size, self.num_replicas)
        for position in positions[self.skip:]:
            yield order[position] % self.dataset_size, f'{self.seed}-{self.epoch}-{position}'

    def __len__(self) -> int:
        return self.num_samples - self.skip
