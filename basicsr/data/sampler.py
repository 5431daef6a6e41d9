"""Samplers: the training one (shuffled, enlarged epochs, split across ranks, resumable mid-epoch) and the
evaluation one (each rank takes its share of the images once)."""
import math
from typing import Iterator

import torch
from torch.utils.data import Sampler


class EnlargedSampler(Sampler):
    """Yields ``(index, sample_seed)`` for one rank's share of an epoch of ``len(dataset) * ratio`` samples.

    An epoch is a sequence of positions; the sample at a position (its dataset index, from a permutation seeded
    by ``(seed, epoch)``, and its augmentation seed, from the run seed, the epoch and the position) does not
    depend on the number of ranks. Rank ``r`` of ``n`` takes positions ``r, r + n, ...``, so at each iteration the
    ranks together use the same consecutive positions one process would with an ``n`` times larger batch. When
    the epoch does not divide by ``n``, it is padded with its first positions' samples (as DistributedSampler
    does). A run resumed mid-epoch (``set_epoch(epoch, skip=k)``) sees exactly the samples an uninterrupted run
    would, whatever the number of dataloader workers.

    Args:
        dataset_size: number of items in the dataset.
        num_replicas / rank: distributed world size and this process's rank.
        ratio: ``dataset_enlarge_ratio``, to make short datasets give longer epochs.
        shuffle: random order (otherwise sequential).
        seed: the run's ``manual_seed`` (the same on every rank).
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
        self.epoch_size = dataset_size * ratio
        self.num_samples = math.ceil(self.epoch_size / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Start epoch ``epoch``, leaving out this rank's first ``skip`` samples (already used before a resume)."""
        self.epoch = epoch
        self.skip = skip

    def __iter__(self) -> Iterator[tuple[int, str]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.epoch_size, generator=generator).tolist()
        else:
            order = list(range(self.epoch_size))
        positions = range(self.rank, self.total_size, self.num_replicas)
        for position in positions[self.skip:]:
            position %= self.epoch_size  # padding repeats the epoch's first positions
            yield order[position] % self.dataset_size, f'{self.seed}-{self.epoch}-{position}'

    def __len__(self) -> int:
        return self.num_samples - self.skip


class ShardSampler(Sampler):
    """Evaluation order for one rank: indices ``rank, rank + world_size, ...`` (no padding, no repeats).

    The ranks' shares together hold every image exactly once, so gathered metrics count each image once even
    when the image count does not divide by the number of ranks.
    """

    def __init__(self, dataset_size: int, num_replicas: int = 1, rank: int = 0) -> None:
        self.indices = range(rank, dataset_size, num_replicas)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
