"""Set-level metrics (FID): values of a whole image set, not means of per-image values.

A set-level metric is a :class:`DatasetMetric` subclass registered in METRIC_REGISTRY like the per-image functions
(``val.metrics.<name>.type`` names it, its other keys are its constructor's arguments); its class attribute
``dataset_level`` tells the two kinds apart. Evaluating a set, with ``metrics_opt`` the ``val.metrics`` section:

    per_image_opt, _ = split_metrics(metrics_opt)       # per-image entries: calculate_metric as before
    set_metrics = build_dataset_metrics(metrics_opt)    # {name: DatasetMetric}, fresh for this set
    for each image of this rank's share:
        for metric in set_metrics.values():
            metric.update(sr, gt)                       # [0, 1] RGB tensors on any device, like calculate_metric
    values = gather_dataset_metrics(set_metrics)        # every rank calls it; {name: float}, same on every rank

:func:`gather_dataset_metrics` gathers every rank's :meth:`DatasetMetric.state`, merges the states in rank order
and computes the value from the merged state, so a distributed evaluation gives the value of one process going
through the whole set.
"""
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import torch

from basicsr.utils.dist_util import all_gather_objects
from basicsr.utils.registry import METRIC_REGISTRY

FRAMEWORK_KEYS = ('type', 'better')  # keys of a val.metrics entry that are not the metric's own arguments


class DatasetMetric(ABC):
    """A metric accumulated image by image and computed once over the set.

    Its state is a picklable dict (numpy arrays, numbers) that depends only on the images seen, so that states of
    disjoint shares merge into the state of their union.
    """

    dataset_level: ClassVar[bool] = True

    @abstractmethod
    def update(self, sr: torch.Tensor, gt: torch.Tensor | None) -> None:
        """Add a batch: NCHW RGB tensors in [0, 1] (quantised to 8 bits by the metric, as per-image metrics are)."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """What this process has accumulated, picklable."""

    @staticmethod
    @abstractmethod
    def merge_states(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The state of the union of the shares ``states`` describe (in the given order)."""

    @abstractmethod
    def compute(self, state: dict[str, Any] | None = None) -> float:
        """The metric of ``state`` (by default this process's own)."""


def is_dataset_metric(metric_type: str) -> bool:
    """Whether the registered metric ``metric_type`` is set-level."""
    return bool(getattr(METRIC_REGISTRY.get(metric_type), 'dataset_level', False))


def split_metrics(metrics_opt: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]],
                                                                     dict[str, dict[str, Any]]]:
    """``val.metrics`` split into per-image entries and set-level entries (each keeps its option order)."""
    per_image, per_set = {}, {}
    for name, opt in metrics_opt.items():
        (per_set if is_dataset_metric(opt['type']) else per_image)[name] = opt
    return per_image, per_set


def build_dataset_metrics(metrics_opt: dict[str, dict[str, Any]],
                          key_path: str = 'val.metrics') -> dict[str, DatasetMetric]:
    """A fresh :class:`DatasetMetric` for each set-level entry of ``metrics_opt`` (per-image ones are skipped).

    Building is cheap: networks are loaded once per process and device, at the first ``update``.
    """
    return {name: METRIC_REGISTRY.build({k: v for k, v in opt.items() if k == 'type' or k not in FRAMEWORK_KEYS},
                                        f'{key_path}.{name}')
            for name, opt in split_metrics(metrics_opt)[1].items()}


def gather_dataset_metrics(metrics: dict[str, DatasetMetric]) -> dict[str, float]:
    """The value of each metric over every rank's images, on every rank (all ranks must call it; one collective).

    States are merged in rank order, so every rank computes from the same merged state.
    """
    if not metrics:
        return {}
    gathered = all_gather_objects({name: metric.state() for name, metric in metrics.items()})
    return {name: metric.compute(metric.merge_states([states[name] for states in gathered]))
            for name, metric in metrics.items()}
