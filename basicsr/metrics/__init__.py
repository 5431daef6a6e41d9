"""Image-quality metrics, found by name in METRIC_REGISTRY (``val.metrics.<name>.type``)."""
from typing import Any

import torch

from basicsr.metrics.niqe import calculate_niqe, load_niqe_model
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_psnr_pt, calculate_ssim, calculate_ssim_pt
from basicsr.utils.errors import DataError, OptionError
from basicsr.utils.img_util import tensor2img
from basicsr.utils.registry import METRIC_REGISTRY

_FRAMEWORK_KEYS = ('type', 'better')


def quantize_tensor(img: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to the 8-bit grid: the image as saved to PNG, which metrics are defined on."""
    return (img.detach().float().clamp(0, 1) * 255.).round() / 255.


def calculate_metric(data: dict[str, Any] | torch.Tensor, opt: dict[str, Any] | torch.Tensor,
                     metric_opt: dict[str, Any] | None = None) -> Any:
    """BasicSR's ``calculate_metric(data, opt)``: the metric ``opt['type']`` called with the images of ``data``
    (``img``, ``img2``, as the metric takes them) and the other keys of ``opt``; returns what the metric returns.

    Called as ``calculate_metric(sr, gt, opt)`` with two tensors, it is :func:`calculate_tensor_metric`.
    """
    if isinstance(data, torch.Tensor):
        return calculate_tensor_metric(data, opt, metric_opt)
    kwargs = {k: v for k, v in opt.items() if k not in _FRAMEWORK_KEYS}
    return METRIC_REGISTRY.get(opt['type'])(**data, **kwargs)


def calculate_tensor_metric(sr: torch.Tensor, gt: torch.Tensor, opt: dict[str, Any]) -> float:
    """One metric of a (1, C, H, W) SR image against its GT, both [0, 1] RGB tensors on any device.

    Both are first quantised to 8 bits. A metric ``X`` with a registered torch twin ``X_pt`` is computed on the
    tensors' device (same values as the numpy reference); others get the uint8 BGR images ``tensor2img`` makes.
    """
    name = opt['type']
    kwargs = {k: v for k, v in opt.items() if k not in _FRAMEWORK_KEYS}
    sr, gt = quantize_tensor(sr), quantize_tensor(gt)
    if not name.endswith('_pt') and f'{name}_pt' in METRIC_REGISTRY:
        name = f'{name}_pt'
    metric = METRIC_REGISTRY.get(name)
    if name.endswith('_pt'):
        return float(metric(img=sr, img2=gt, **kwargs).mean())
    return float(metric(img=tensor2img(sr), img2=tensor2img(gt), **kwargs))


def check_metric_files(metrics_opt: dict[str, dict[str, Any]]) -> None:
    """Load the data files metrics read (NIQE's pristine model) now: a missing one stops the run before training
    rather than at its first validation. The error names ``val.metrics.<name>``."""
    for name, opt in metrics_opt.items():
        if opt['type'] == 'calculate_niqe':
            try:
                load_niqe_model(opt.get('params_path'))
            except DataError as err:
                raise OptionError(f'val.metrics.{name}: {err}', key_path=f'val.metrics.{name}') from err


def mean_metrics(per_image: dict[str, dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over images (``{image: {metric: value}}`` -> ``{metric: mean}``)."""
    names = next(iter(per_image.values()), {})
    return {name: sum(row[name] for row in per_image.values()) / len(per_image) for name in names}


__all__ = ['mean_metrics', 'calculate_metric', 'calculate_tensor_metric', 'check_metric_files', 'quantize_tensor',
           'calculate_psnr', 'calculate_ssim', 'calculate_psnr_pt', 'calculate_ssim_pt', 'calculate_niqe',
           'METRIC_REGISTRY']
