"""Speed options: mixed precision (bf16, fp16 with loss scaling), channels_last, torch.compile with its fallback,
fused optimisers, the dataset's crop-before-conversion, and the benchmark script's quick mode. Tiny networks on
the CPU, a few iterations each."""
import json
import logging
import math
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.transforms import augment, paired_random_crop
from basicsr.models import BaseModel, build_model
from basicsr.models.speed import CompiledNetwork
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.errors import OptionError, TrainingError
from basicsr.utils.img_util import img2tensor, imwrite
from basicsr.utils.logger import get_root_logger
from basicsr.utils.options import parse_options

from conftest import ROOT, tiny_train_options, write_yaml
from test_gan_training import build_from, changed, gan_options, snapshot


def build(tmp_path: Path, **train_updates) -> BaseModel:
    """A tiny SRModel on the CPU with ``train_updates`` in its ``train`` section, weights seeded identically."""
    opt = tiny_train_options(tmp_path, train__ema_decay=0.0,
                             **{f'train__{key}': value for key, value in train_updates.items()})
    opt = parse_options(write_yaml(tmp_path / 'o.yml', opt))
    opt.update(dist=False, rank=0, world_size=1, auto_resume=False, num_gpu=0)
    torch.manual_seed(0)
    return build_model(opt)


def batches(count: int = 4) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [{'lq': torch.rand(2, 3, 8, 8, generator=generator), 'gt': torch.rand(2, 3, 32, 32, generator=generator)}
            for _ in range(count)]


def conv_output_dtypes(model) -> list[torch.dtype]:
    """The dtypes the first convolution of the model's generator will produce (filled as it runs)."""
    dtypes = []
    model.get_bare_model(model.net_g).conv_first.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    return dtypes


def train_losses(model, data: list[dict[str, torch.Tensor]]) -> list[float]:
    losses = []
    for step, batch in enumerate(data, 1):
        model.feed_data(batch)
        model.optimize_parameters(step)
        losses.append(model.get_current_log()['l_pix'])
    return losses


@pytest.fixture
def log_records():
    """Records of the package logger (it does not propagate to pytest's caplog)."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = get_root_logger()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def cpu_autocast_works(dtype: torch.dtype) -> bool:
    """Whether this torch build autocasts to ``dtype`` on the CPU (older builds ignore fp16 with a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with torch.autocast('cpu', dtype=dtype):
            return torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == dtype


@pytest.mark.parametrize('amp, dtype', [
    ('bf16', torch.bfloat16),
    pytest.param('fp16', torch.float16, marks=pytest.mark.skipif(
        not cpu_autocast_works(torch.float16), reason='this torch build has no fp16 autocast on the CPU')),
])
def test_mixed_precision_trains_close_to_fp32(tmp_path, amp, dtype):
    data = batches()
    reference = train_losses(build(tmp_path / 'fp32'), data)
    model = build(tmp_path / amp, amp=amp)
    dtypes = conv_output_dtypes(model)
    losses = train_losses(model, data)
    assert set(dtypes) == {dtype}  # the forward pass ran in reduced precision ...
    assert all(p.dtype == torch.float32 for p in model.net_g.parameters())  # ... on float32 master weights
    assert list(model.grad_scalers) == ([model.optimizer_g] if amp == 'fp16' else [])  # loss scaling for fp16
    assert losses == pytest.approx(reference, rel=0.02)
    assert losses != reference


def test_fp16_gradient_overflow_is_skipped_without_counting_as_non_finite(tmp_path, log_records):
    model = build(tmp_path, amp='fp16', max_nonfinite_steps=1)
    data = batches(2)
    train_losses(model, data[:1])
    scaler = model.grad_scalers[model.optimizer_g]
    scaler.update(new_scale=2.0**120)  # the scaled fp16 gradients overflow
    before = [p.detach().clone() for p in model.net_g.parameters()]
    model.feed_data(data[1])
    model.optimize_parameters(2)  # with max_nonfinite_steps 1, a counted step would raise
    assert all(torch.equal(a, b) for a, b in zip(before, model.net_g.parameters()))  # step skipped
    assert scaler.get_scale() < 2.0**120
    assert model._nonfinite_streak == 0
    assert not any('non-finite' in r.getMessage() for r in log_records if r.levelno >= logging.WARNING)


def test_fp16_non_finite_loss_still_counts(tmp_path):
    model = build(tmp_path, amp='fp16', max_nonfinite_steps=1)
    batch = batches(1)[0]
    model.feed_data({**batch, 'lq': torch.full_like(batch['lq'], float('nan'))})
    with pytest.raises(TrainingError, match='1 non-finite steps in a row'):
        model.optimize_parameters(1)


def test_channels_last_gives_the_nchw_results(tmp_path):
    data = batches()
    plain = build(tmp_path / 'nchw')
    fast = build(tmp_path / 'nhwc', channels_last=True)
    conv = fast.net_g.conv_first.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    fast.feed_data(data[0])
    assert fast.lq.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = plain.net_g(data[0]['lq'])
        torch.testing.assert_close(fast.net_g(fast.lq), expected, rtol=1e-5, atol=1e-5)
    assert train_losses(fast, data) == pytest.approx(train_losses(plain, data), rel=1e-4)


@pytest.mark.parametrize('fails_at', ['compile', 'first call'])
def test_compile_falls_back_to_eager_with_a_log_line(tmp_path, monkeypatch, log_records, fails_at):
    def broken_backend(*args, **kwargs):
        raise RuntimeError('backend unavailable (test)')

    monkeypatch.setattr(torch, 'compile', broken_backend if fails_at == 'compile' else lambda net, mode: broken_backend)
    model = build(tmp_path, compile=True)
    before = [p.detach().clone() for p in model.net_g.parameters()]
    losses = train_losses(model, batches(2))
    assert isinstance(model.net_g, CompiledNetwork) and not model.net_g.compiled
    assert all(loss > 0 for loss in losses)
    assert not all(torch.equal(a, b) for a, b in zip(before, model.net_g.parameters()))  # it trained
    warnings = [r.getMessage() for r in log_records if r.levelno == logging.WARNING]
    assert any('torch.compile of network_g is unavailable' in w and 'backend unavailable (test)' in w
               for w in warnings)


def test_compile_wraps_the_network_and_checkpoints_stay_plain(tmp_path, monkeypatch):
    calls = []

    def fake_compile(net, mode):
        calls.append(mode)
        return net

    monkeypatch.setattr(torch, 'compile', fake_compile)
    model = build(tmp_path, compile='max-autotune')
    train_losses(model, batches(1))
    assert calls == ['max-autotune'] and model.net_g.compiled
    bare = model.get_bare_model(model.net_g)
    assert type(bare).__name__ == 'MSRResNet'
    model.save(0, 1)
    saved = load_checkpoint(tmp_path / 'experiments' / 'tiny' / 'models' / 'net_g_1.pth')['params']
    assert set(saved) == set(bare.state_dict())


def test_gan_training_with_bf16_and_channels_last(tmp_path):
    """Both networks of ESRGAN run in bf16 and NHWC; both train and every logged loss is finite."""
    model = build_from(tmp_path, gan_options(tmp_path, 'ESRGANModel', amp='bf16', channels_last=True))
    d_dtypes = []
    model.net_d.register_forward_hook(lambda m, i, out: d_dtypes.append(out.dtype))
    g_before, d_before = snapshot(model.net_g), snapshot(model.net_d)
    for step, batch in enumerate(batches(2), 1):
        model.feed_data(batch)
        model.optimize_parameters(step)
        assert all(math.isfinite(value) for value in model.get_current_log().values())
    assert set(d_dtypes) == {torch.bfloat16}
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in model.net_d.parameters() if p.dim() == 4)
    assert changed(g_before, model.net_g) and changed(d_before, model.net_d)


def test_adam_is_fused_unless_the_options_choose(tmp_path):
    assert build(tmp_path / 'auto').optimizer_g.defaults['fused'] is True
    chosen = build(tmp_path / 'chosen', optim_g={'type': 'Adam', 'lr': 1e-3, 'foreach': False}).optimizer_g
    assert not chosen.defaults['fused'] and chosen.defaults['foreach'] is False


def test_bad_compile_mode_names_the_key(tmp_path):
    with pytest.raises(OptionError, match='train.compile'):
        build(tmp_path, compile='fastest')


def test_speed_options_in_a_whole_training_run(tmp_path):
    """bf16 + channels_last through train.py; fp16's scaler state is saved with the training state."""
    opt = tiny_train_options(tmp_path, train__amp='fp16', train__channels_last=True)
    train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'train.yml', opt))])
    state = load_checkpoint(tmp_path / 'experiments' / 'tiny' / 'training_states' / '6.state')
    assert len(state['grad_scalers']) == 1 and state['grad_scalers'][0]['scale'] > 0
    assert '# psnr:' in next((tmp_path / 'experiments' / 'tiny').glob('train_tiny_*.log')).read_text()


def test_benchmark_quick_json(tmp_path):
    out = tmp_path / 'bench.json'
    command = [sys.executable, str(ROOT / 'scripts' / 'benchmark.py'), '--quick', '--networks', 'MSRResNet',
               '--amp', 'none', 'bf16', '--compile', 'off', '--repeats', '2', '--warmup', '1', '--threads', '1',
               '--json', str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert {'machine', 'settings', 'results'} <= set(report)
    sections = {row['section'] for row in report['results']}
    assert sections == {'train', 'inference', 'data', 'validation', 'metrics', 'degradation'}
    for row in report['results']:
        assert row['value'] > 0 and row['runs'] >= 1 and row['unit']
    train = {row['config']: row for row in report['results'] if row['section'] == 'train'}
    assert {'plain fp32 loop', 'framework, no speed options', 'bf16 + channels_last'} <= set(train)
    assert train['plain fp32 loop']['ratio'] == 1.0
    assert 'plain fp32 loop' in result.stdout and 'iterations/s' in result.stdout


@pytest.mark.parametrize('depth', [np.uint8, np.uint16])
def test_patches_cropped_before_the_float_conversion_are_unchanged(tmp_path, depth):
    """PairedImageDataset crops images as stored and converts only the patch: the same values as converting first."""
    rng = np.random.default_rng(0)
    top = np.iinfo(depth).max
    for name, size in (('HR', 48), ('LR', 12)):
        imwrite(rng.integers(0, top, (size, size, 3), endpoint=True).astype(depth), tmp_path / name / 'a.png')
    dataset = PairedImageDataset(str(tmp_path / 'HR'), str(tmp_path / 'LR'), gt_size=32, use_hflip=True,
                                 use_rot=True, scale=4)
    sample = dataset[(0, 'seed')]
    generator = random.Random('seed')
    gt, lq = dataset.read(dataset.paths[0]['gt_path'], 'gt'), dataset.read(dataset.paths[0]['lq_path'], 'lq')
    gt, lq = augment(list(paired_random_crop(gt, lq, 32, 4, rng=generator)), True, True, rng=generator)
    expected_gt, expected_lq = img2tensor([gt, lq])
    assert torch.equal(sample['gt'], expected_gt) and torch.equal(sample['lq'], expected_lq)
