"""Iterators over a dataloader that keep the next batch ready (on the CPU, or already copied to the GPU)."""
from typing import Any, Iterable

import torch


class CPUPrefetcher:
    """``next()`` returns the next batch or None at the end of the epoch; ``reset()`` starts a new epoch."""

    def __init__(self, loader: Iterable) -> None:
        self.loader = loader
        self.iterator = iter(loader)

    def next(self) -> Any:
        return next(self.iterator, None)

    def reset(self) -> None:
        self.iterator = iter(self.loader)


class CUDAPrefetcher(CPUPrefetcher):
    """Copies the following batch to the GPU on a side stream while the current one is being used.

    Works best with ``pin_memory: true`` (the copies are then truly asynchronous).
    """

    def __init__(self, loader: Iterable, device: torch.device) -> None:
        self.device = device
        self.stream = torch.cuda.Stream(device=device)
        self.batch = None
        super().__init__(loader)
        self._preload()

    def _preload(self) -> None:
        self.batch = next(self.iterator, None)
        if self.batch is None:
            return
        with torch.cuda.stream(self.stream):
            self.batch = {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v
                          for k, v in self.batch.items()}

    def next(self) -> Any:
        torch.cuda.current_stream(self.device).wait_stream(self.stream)
        batch = self.batch
        if batch is not None:
            for value in batch.values():
                if torch.is_tensor(value):
                    value.record_stream(torch.cuda.current_stream(self.device))
        self._preload()
        return batch

    def reset(self) -> None:
        super().reset()
        self._preload()
