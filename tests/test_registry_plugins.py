"""Checks every registered loss and metric gets by being registered (as timm's test_models.py does for models):
adding a plug-in adds its checks. Networks have theirs in tests/test_arch_registry.py."""
import math
import sys

import pytest
import torch

import basicsr.losses  # noqa: F401  (registers the losses)
import basicsr.metrics  # noqa: F401  (registers the metrics)
from basicsr.metrics import build_dataset_metrics, calculate_tensor_metric, is_dataset_metric
from basicsr.utils.errors import DataError
from basicsr.utils.registry import LOSS_REGISTRY, METRIC_REGISTRY, accepted_arguments

from conftest import synthetic_image

IMAGE_TERMS = sorted(name for name, cls in LOSS_REGISTRY if getattr(cls, 'compares_with_target', True))


def image_pair(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """A (1, 3, size, size) RGB image in [0, 1] and a noisy copy of it."""
    gt = torch.from_numpy(synthetic_image(3, size, size)[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 255
    noisy = (gt + 0.08 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    return noisy, gt


def build(registry, name: str):
    return registry.build({'type': name, **registry.info(name).get('tiny_config', {})}, f'test.{name}')


@pytest.mark.parametrize('name', IMAGE_TERMS)
def test_every_loss_term_gives_a_finite_positive_value_and_gradient(name):
    loss = build(LOSS_REGISTRY, name)
    output, target = image_pair()
    output.requires_grad_(True)
    extras = {key: target.clone() * 0.9 for key in getattr(loss, 'extra_inputs', ())}  # e.g. LDL's EMA output
    value = loss(output, target, **extras)
    parts = list(value.values()) if isinstance(value, dict) else [v for v in value if v is not None] \
        if isinstance(value, tuple) else [value]
    total = sum(parts)
    assert torch.isfinite(total) and total.item() > 0, name
    total.backward()
    assert output.grad is not None and torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0, name


def test_the_losses_that_compare_with_no_target_are_the_adversarial_and_tv_ones():
    builtin = {name for name, cls in LOSS_REGISTRY if cls.__module__.startswith('basicsr.')}
    assert sorted(builtin - set(IMAGE_TERMS)) == ['GANLoss', 'WeightedTVLoss']
    output = image_pair()[0].requires_grad_(True)
    for value in (build(LOSS_REGISTRY, 'WeightedTVLoss')(output), build(LOSS_REGISTRY, 'GANLoss')(output, True)):
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(output.grad).all()


@pytest.mark.parametrize('name', sorted(METRIC_REGISTRY.keys()))
def test_every_metric_gives_its_perfect_score_on_a_pair_of_equal_images(name):
    info = METRIC_REGISTRY.info(name)
    assert 'perfect_score' in info, f'{name}: register it with perfect_score=... (None: no reference image)'
    noisy, gt = image_pair(192)  # MS-SSIM's five scales need 176 pixels
    random_weights = {'pretrained': False} if 'pretrained' in accepted_arguments(METRIC_REGISTRY.get(name)) else {}
    opt = {'type': name, 'crop_border': 0, **random_weights}
    if is_dataset_metric(name):
        opt.pop('crop_border')
        metric = build_dataset_metrics({'m': opt})['m']
        for _ in range(3):
            metric.update(gt, gt)
        same = metric.compute()
    elif info['perfect_score'] is None:  # no reference (NIQE): its model file is named when missing
        with pytest.raises(DataError, match='niqe_pris_params.npz'):
            calculate_tensor_metric(gt, gt, {**opt, 'params_path': '/nonexistent/niqe.npz'})
        return
    else:
        same = calculate_tensor_metric(gt, gt, opt)
        worse = calculate_tensor_metric(noisy, gt, opt)
        assert abs(worse - info['perfect_score']) > 1e-3, (name, worse)
    perfect = info['perfect_score']
    assert same == perfect if math.isinf(perfect) else abs(same - perfect) < 1e-4, (name, same)


def test_one_file_imported_under_two_module_names_registers_once(tmp_path):
    """A plug-in file reached as ``archs.x`` and as ``project.archs.x`` is one definition, not a clash; two
    different classes of one name still clash."""
    import importlib.util

    from basicsr.utils.registry import Registry
    registry = Registry('test')
    (tmp_path / 'twice.py').write_text('class Net:\n    pass\n')
    (tmp_path / 'other.py').write_text('class Net:\n    pass\n')
    classes = []
    for name, file in (('archs.twice', 'twice.py'), ('project.archs.twice', 'twice.py'), ('other', 'other.py')):
        spec = importlib.util.spec_from_file_location(name, tmp_path / file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        classes.append(module.Net)
    registry.register(classes[0])
    registry.register(classes[1])
    assert registry.get('Net') is classes[1]
    with pytest.raises(KeyError, match="'Net' is already registered"):
        registry.register(classes[2])
