"""Image-quality metrics, found by name in METRIC_REGISTRY (``val.metrics.<name>.type``)."""
from typing import Any

import torch

from basicsr.metrics.dataset_metric import (FRAMEWORK_KEYS, DatasetMetric, build_dataset_metrics,
                                            gather_dataset_metrics, is_dataset_metric, split_metrics)
from basicsr.metrics.fid import FrechetInceptionDistance
from basicsr.metrics.metric_util import quantize_tensor
from basicsr.metrics.ms_ssim import calculate_ms_ssim, calculate_ms_ssim_pt
from basicsr.metrics.niqe import calculate_niqe
from basicsr.metrics.perceptual import calculate_dists, calculate_dists_pt, calculate_lpips, calculate_lpips_pt
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_psnr_pt, calculate_ssim, calculate_ssim_pt
from basicsr.utils.errors import OptionError
from basicsr.utils.img_util import tensor2img
from basicsr.utils.registry import METRIC_REGISTRY, import_modules

import_modules(__file__, __name__, '')  # every metric module registers its metrics

_FRAMEWORK_KEYS = FRAMEWORK_KEYS


def calculate_metric(data: dict[str, Any] | torch.Tensor, opt: dict[str, Any] | torch.Tensor,
                     metric_opt: dict[str, Any] | None = None) -> Any:
    """BasicSR's ``calculate_metric(data, opt)``: the metric ``opt['type']`` called with the images of ``data``
    (``img``, ``img2``, as the metric takes them) and the other keys of ``opt``; returns what the metric returns.

    Called as ``calculate_metric(sr, gt, opt)`` with two tensors, it is :func:`calculate_tensor_metric`.
    """
    if isinstance(data, torch.Tensor):
        return calculate_tensor_metric(data, opt, metric_opt)
    _refuse_dataset_metric(opt['type'])
    kwargs = {k: v for k, v in opt.items() if k not in _FRAMEWORK_KEYS}
    return METRIC_REGISTRY.get(opt['type'])(**data, **kwargs)


def calculate_tensor_metric(sr: torch.Tensor, gt: torch.Tensor, opt: dict[str, Any]) -> float:
    """One metric of a (1, C, H, W) SR image against its GT, both [0, 1] RGB tensors on any device.

    Both are first quantised to 8 bits. A metric ``X`` with a registered torch twin ``X_pt`` is computed on the
    tensors' device (same values as the numpy reference); others get the uint8 BGR images ``tensor2img`` makes.
    """
    name = opt['type']
    _refuse_dataset_metric(name)
    kwargs = {k: v for k, v in opt.items() if k not in _FRAMEWORK_KEYS}
    sr, gt = quantize_tensor(sr), quantize_tensor(gt)
    if not name.endswith('_pt') and f'{name}_pt' in METRIC_REGISTRY:
        name = f'{name}_pt'
    metric = METRIC_REGISTRY.get(name)
    if name.endswith('_pt'):
        return float(metric(img=sr, img2=gt, **kwargs).mean())
    return float(metric(img=tensor2img(sr), img2=tensor2img(gt), **kwargs))


def _refuse_dataset_metric(name: str) -> None:
    if is_dataset_metric(name):
        raise OptionError(f'{name} is computed over a whole set, not per image: build it with '
                          'build_dataset_metrics and update it with every image (basicsr.metrics.dataset_metric).')


def mean_metrics(per_image: dict[str, dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over images (``{image: {metric: value}}`` -> ``{metric: mean}``)."""
    names = next(iter(per_image.values()), {})
    return {name: sum(row[name] for row in per_image.values()) / len(per_image) for name in names}


__all__ = ['mean_metrics', 'calculate_metric', 'calculate_tensor_metric', 'quantize_tensor',
           'calculate_psnr', 'calculate_ssim', 'calculate_psnr_pt', 'calculate_ssim_pt', 'calculate_niqe',
           'calculate_ms_ssim', 'calculate_ms_ssim_pt', 'calculate_lpips', 'calculate_lpips_pt', 'calculate_dists',
           'calculate_dists_pt', 'FrechetInceptionDistance', 'DatasetMetric', 'is_dataset_metric', 'split_metrics',
           'build_dataset_metrics', 'gather_dataset_metrics', 'METRIC_REGISTRY']
