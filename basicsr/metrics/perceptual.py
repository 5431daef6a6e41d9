"""LPIPS and DISTS, the learned full-reference metrics of perceptual SR papers; lower is better.

``calculate_lpips`` / ``calculate_dists`` take [0, 255] BGR images like the other numpy metrics; their ``_pt`` twins
take NCHW RGB tensors in [0, 1] and run on the tensors' device (validation uses these). Both compute with the same
network, built once per process and device. The networks, their weight files and the ``pretrained: false`` mode
are described in :mod:`basicsr.archs.lpips_arch` and :mod:`basicsr.archs.dists_arch`.
"""
import functools

import numpy as np
import torch

from basicsr.archs.dists_arch import DISTSNet, dists_weight_files
from basicsr.archs.lpips_arch import LPIPSNet, TrunkName, lpips_weight_files
from basicsr.metrics.metric_util import reorder_image
from basicsr.metrics.psnr_ssim import _crop_pair_torch
from basicsr.utils.img_util import img2tensor
from basicsr.utils.registry import METRIC_REGISTRY


@functools.lru_cache(maxsize=4)
def lpips_network(net: TrunkName, pretrained: bool, backbone_path: str | None, heads_path: str | None,
                  device: torch.device) -> LPIPSNet:
    """The LPIPS network of these options on ``device``, built once per process."""
    return LPIPSNet(net, pretrained, backbone_path, heads_path).to(device)


@functools.lru_cache(maxsize=2)
def dists_network(pretrained: bool, backbone_path: str | None, alpha_beta_path: str | None,
                  device: torch.device) -> DISTSNet:
    """The DISTS network of these options on ``device``, built once per process."""
    return DISTSNet(pretrained, backbone_path, alpha_beta_path).to(device)


def _prepare_pair(img: torch.Tensor, img2: torch.Tensor, crop_border: int,
                  name: str) -> tuple[torch.Tensor, torch.Tensor]:
    img, img2 = _crop_pair_torch(img, img2, crop_border, name)
    if img.shape[1] != 3:
        raise ValueError(f'{name}: needs RGB images (3 channels), got {img.shape[1]}.')
    return img.float(), img2.float()


def _numpy_to_tensor(img: np.ndarray, input_order: str) -> torch.Tensor:
    """A [0, 255] BGR image -> (1, 3, H, W) RGB float tensor in [0, 1]."""
    return img2tensor(reorder_image(img, input_order).astype(np.float32) / 255.).unsqueeze(0)


@METRIC_REGISTRY.register(perfect_score=0.0)
def calculate_lpips_pt(img: torch.Tensor, img2: torch.Tensor, crop_border: int = 0, net: TrunkName = 'alex',
                       pretrained: bool = True, backbone_path: str | None = None, heads_path: str | None = None,
                       input_order: str = 'CHW') -> torch.Tensor:
    """LPIPS v0.1 of NCHW RGB [0, 1] tensors, shape (N,) float64 (``input_order`` only fits the numpy options)."""
    img, img2 = _prepare_pair(img, img2, crop_border, 'calculate_lpips')
    network = lpips_network(net, pretrained, backbone_path, heads_path, img.device)
    with torch.inference_mode():
        return network(img, img2).to(torch.float64)


@METRIC_REGISTRY.register(perfect_score=0.0)
def calculate_lpips(img: np.ndarray, img2: np.ndarray, crop_border: int = 0, net: TrunkName = 'alex',
                    pretrained: bool = True, backbone_path: str | None = None, heads_path: str | None = None,
                    input_order: str = 'HWC') -> float:
    """LPIPS v0.1 of two [0, 255] BGR images (e.g. uint8 from ``tensor2img``), computed on the CPU.

    Args:
        crop_border: pixels dropped at each edge first.
        net: ``alex`` (the LPIPS authors' choice for evaluation) or ``vgg``.
        pretrained: false for a random trunk (demos, tests; not comparable with papers).
        backbone_path, heads_path: explicit weight files, see :func:`basicsr.archs.lpips_arch.lpips_weight_files`.
    """
    return float(calculate_lpips_pt(_numpy_to_tensor(img, input_order), _numpy_to_tensor(img2, input_order),
                                    crop_border, net, pretrained, backbone_path, heads_path)[0])


@METRIC_REGISTRY.register(perfect_score=0.0)
def calculate_dists_pt(img: torch.Tensor, img2: torch.Tensor, crop_border: int = 0, pretrained: bool = True,
                       backbone_path: str | None = None, alpha_beta_path: str | None = None,
                       input_order: str = 'CHW') -> torch.Tensor:
    """DISTS of NCHW RGB [0, 1] tensors, shape (N,) float64 (``input_order`` only fits the numpy options)."""
    img, img2 = _prepare_pair(img, img2, crop_border, 'calculate_dists')
    network = dists_network(pretrained, backbone_path, alpha_beta_path, img.device)
    with torch.inference_mode():
        return network(img, img2).to(torch.float64)


@METRIC_REGISTRY.register(perfect_score=0.0)
def calculate_dists(img: np.ndarray, img2: np.ndarray, crop_border: int = 0, pretrained: bool = True,
                    backbone_path: str | None = None, alpha_beta_path: str | None = None,
                    input_order: str = 'HWC') -> float:
    """DISTS of two [0, 255] BGR images, computed on the CPU (images are not resized, unlike the release's demo).

    Args:
        crop_border: pixels dropped at each edge first.
        pretrained: false for a random trunk (demos, tests; not comparable with papers).
        backbone_path, alpha_beta_path: explicit weight files, see
            :func:`basicsr.archs.dists_arch.dists_weight_files`.
    """
    return float(calculate_dists_pt(_numpy_to_tensor(img, input_order), _numpy_to_tensor(img2, input_order),
                                    crop_border, pretrained, backbone_path, alpha_beta_path)[0])


# The weight files each metric reads, found before a run starts (the plug-ins' ``check_files`` protocol).
calculate_lpips.check_files = calculate_lpips_pt.check_files = lpips_weight_files
calculate_dists.check_files = calculate_dists_pt.check_files = dists_weight_files
