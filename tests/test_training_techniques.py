"""Acceptance of the training techniques of issue 24 on tiny CPU runs: gradient accumulation (also under 2-rank gloo
DDP), gradient clipping and its logged norm, schedule-free evaluation weights, batch augmentations with exact
resume, NaN terms named, and the two recipes that use them (options/span_msssim_fft_x4.yml,
options/realplksr_realesrgan_x4.yml)."""
import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import schedulefree
import torch
from torch.nn.parallel import DistributedDataParallel

from basicsr.archs.srresnet_arch import MSRResNet
from basicsr.losses.ldl_loss import LDLLoss
from basicsr.metrics import mean_metrics
from basicsr.test import test_pipeline as evaluate
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.errors import CheckpointError

from conftest import ROOT, SHORT, tiny_train_options, train, write_yaml
from test_basicsr_compat import vgg19_weights  # noqa: F401  (fixture: VGG19 weights where torchvision looks)
from test_spandrel_archs import tiny_network
from test_speed_options import build  # the tiny SRModel without EMA, built in this process
from test_training import scalar_tags

@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One intra-op thread (the trainer leaves it when OMP_NUM_THREADS is set): on a shared, loaded 2-core machine
    two threads made SPAN's many small convolutions over 100 times slower."""
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('OMP_NUM_THREADS', '1')
        torch.set_num_threads(1)
        yield
    torch.set_num_threads(threads)


def run_options(root: Path, batch: int, accum: int = 1, total_iter: int = 3, **updates) -> dict:
    """The tiny training without validation (and without EMA unless ``updates`` say): ``batch`` x ``accum`` samples
    per optimiser step, a checkpoint every iteration."""
    updates = {'train__ema_decay': 0.0, **updates}
    opt = tiny_train_options(root, datasets__train__batch_size_per_gpu=batch, datasets__train__dataset_enlarge_ratio=6,
                             train__accum_iter=accum, train__total_iter=total_iter, logger__save_checkpoint_freq=1,
                             logger__use_tb_logger=False, **updates)
    del opt['datasets']['val'], opt['val']
    return opt


def run(root: Path, opt: dict, *flags: str) -> Path:
    train_pipeline(argv=['-opt', str(write_yaml(root / 'train.yml', opt)), *flags])
    return root / 'experiments' / opt['name']


def params(exp: Path, iteration: int | str, key: str = 'params') -> dict[str, torch.Tensor]:
    return load_checkpoint(exp / 'models' / f'net_g_{iteration}.pth')[key]


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


# ----------------------------------------------------------------------------------------- accumulation
@pytest.fixture(scope='module')
def batch_8(tmp_path_factory) -> Path:
    """Batch 8, one micro-batch per step, 3 optimiser steps."""
    root = tmp_path_factory.mktemp('batch8')
    return run(root, run_options(root, batch=8))


@pytest.fixture(scope='module')
def batch_4_accum_2(tmp_path_factory) -> Path:
    """Batch 4 x accum_iter 2, 3 optimiser steps."""
    root = tmp_path_factory.mktemp('accum2')
    return run(root, run_options(root, batch=4, accum=2))


def test_accumulating_two_batches_of_4_equals_one_batch_of_8(batch_8, batch_4_accum_2):
    exp = batch_4_accum_2
    for iteration in (1, 2, 3):
        diff = max_difference(params(exp, iteration), params(batch_8, iteration))
        assert diff < 1e-6, f'iteration {iteration}: weights differ by {diff}'
    assert max_difference(params(exp, 1), params(exp, 3)) > 1e-4  # it trains
    # iterations, checkpoints and the log count optimiser steps, not micro-batches
    assert sorted(p.name for p in (exp / 'models').glob('net_g_*.pth')) == [
        'net_g_1.pth', 'net_g_2.pth', 'net_g_3.pth', 'net_g_latest.pth']
    state = load_checkpoint(exp / 'training_states' / '3.state')
    assert state['iter'] == 3 and state['accum_iter'] == 2
    log = next(exp.glob('train_*.log')).read_text()
    assert 'batch 4 x 1 process(es) x 2 accumulated micro-batches, 3 iterations per epoch' in log
    assert 'End of training: 3 iterations.' in log


def test_resume_with_accumulation_is_exact_and_another_accum_iter_is_refused_in_one_line(batch_4_accum_2, tmp_path):
    opt = run_options(tmp_path, batch=4, accum=2, total_iter=1)
    run(tmp_path, opt)
    opt['train'].update(accum_iter=1, total_iter=3)
    with pytest.raises(CheckpointError) as raised:
        run(tmp_path, opt, '--auto_resume')
    message = str(raised.value)
    assert '\n' not in message
    assert 'saved with train.accum_iter 2, this run has 1' in message and '1.state' in message
    opt['train'].update(accum_iter=2)
    resumed = run(tmp_path, opt, '--auto_resume')
    assert all(torch.equal(v, params(resumed, 3)[k]) for k, v in params(batch_4_accum_2, 3).items())


def test_accumulation_under_two_rank_ddp_equals_one_process(batch_8, tmp_path):
    """2 ranks x batch 2 x accum_iter 2: the same 8 samples per step as one process with batch 8; gradients are
    synchronised after the last micro-batch only."""
    opt = run_options(tmp_path, batch=2, accum=2, dist_params={'backend': 'gloo'})
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
               str(ROOT / 'train.py'), '-opt', str(write_yaml(tmp_path / 'train.yml', opt)), '--launcher', 'pytorch']
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert done.returncode == 0, f'torchrun failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}'
    exp = tmp_path / 'experiments' / opt['name']
    for iteration in (1, 3):
        diff = max_difference(params(exp, iteration), params(batch_8, iteration))
        assert diff < 1e-6, f'iteration {iteration}: weights differ by {diff}'
    assert 'batch 2 x 2 process(es) x 2 accumulated micro-batches' in next(exp.glob('train_*.log')).read_text()


def test_ddp_synchronises_gradients_on_the_last_micro_batch_only(tmp_path):
    model = build(tmp_path, accum_iter=2)
    torch.distributed.init_process_group('gloo', init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model.net_g = DistributedDataParallel(model.net_g)
        synchronised = []

        def count(state, bucket):
            synchronised.append(model.micro_batch.index)
            future = torch.futures.Future()
            future.set_result(bucket.buffer())
            return future

        model.net_g.register_comm_hook(None, count)
        for index in range(2):
            with model.micro_batch_step(index, 2):
                model.feed_data({'lq': torch.rand(2, 3, 8, 8), 'gt': torch.rand(2, 3, 32, 32)})
                model.optimize_parameters(1)
        assert synchronised and set(synchronised) == {1}
    finally:
        torch.distributed.destroy_process_group()


# ----------------------------------------------------------------------------------------- clipping
def test_clipping_changes_the_update_and_logs_the_norm_clip_grad_norm_returns(tmp_path):
    lr, max_norm = 0.1, 1e-3
    model = build(tmp_path, optim_g={'type': 'SGD', 'lr': lr}, scheduler=None,
                        grad_clip={'max_norm': max_norm, 'norm_type': 2.0})
    reference = copy.deepcopy(model.net_g)
    generator = torch.Generator().manual_seed(3)
    batch = {'lq': torch.rand(2, 3, 8, 8, generator=generator), 'gt': torch.rand(2, 3, 32, 32, generator=generator)}
    torch.nn.functional.l1_loss(reference(batch['lq']), batch['gt']).backward()
    reference_params = list(reference.parameters())
    copies = [p.detach().clone() for p in reference_params]
    for copied, start in zip(copies, reference_params):
        copied.grad = start.grad.clone()
    total_norm = torch.nn.utils.clip_grad_norm_(copies, max_norm)
    assert total_norm > 10 * max_norm  # so clipping acts

    with model.micro_batch_step(0, 1):
        model.feed_data(batch)
        model.optimize_parameters(1)
    logged = model.log_dict['grad_norm_g']
    assert torch.allclose(logged, total_norm, rtol=1e-6), (logged, total_norm)
    assert 'grad_norm_g' in model.get_current_log()
    scale = max_norm / (total_norm + 1e-6)  # clip_grad_norm_'s factor
    for trained, start in zip(model.net_g.parameters(), reference_params):
        clipped = start.detach() - lr * scale * start.grad
        unclipped = start.detach() - lr * start.grad
        assert torch.allclose(trained.detach(), clipped, atol=1e-7)
        if start.grad.abs().max() > 1e-4:
            assert not torch.allclose(trained.detach(), unclipped, atol=1e-7)


def test_clipping_by_value_logs_the_norm_before_clipping(tmp_path):
    model = build(tmp_path, optim_g={'type': 'SGD', 'lr': 0.1}, scheduler=None, grad_clip={'clip_value': 1e-4})
    reference = copy.deepcopy(model.net_g)
    batch = {'lq': torch.rand(2, 3, 8, 8), 'gt': torch.rand(2, 3, 32, 32)}
    torch.nn.functional.l1_loss(reference(batch['lq']), batch['gt']).backward()
    grads = [p.grad for p in reference.parameters()]
    with model.micro_batch_step(0, 1):
        model.feed_data(batch)
        model.optimize_parameters(1)
    expected = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    assert torch.allclose(model.log_dict['grad_norm_g'], expected, rtol=1e-6)
    for trained, start in zip(model.net_g.parameters(), reference.parameters()):
        assert torch.allclose(trained.detach(), start.detach() - 0.1 * start.grad.clamp(-1e-4, 1e-4), atol=1e-8)


# ----------------------------------------------------------------------------------------- schedule-free
SCHEDULE_FREE = {'type': 'AdamWScheduleFree', 'lr': 1e-2, 'betas': [0.9, 0.99], 'weight_decay': 0}


def test_schedule_free_saves_and_validates_its_evaluation_weights_and_resumes_exactly(tmp_path):
    def options(root: Path, total_iter: int) -> dict:
        opt = tiny_train_options(root, train__optim_g=SCHEDULE_FREE, train__scheduler=None, train__ema_decay=0.0,
                                 train__total_iter=total_iter, logger__save_checkpoint_freq=2,
                                 val__val_freq=2, val__save_img=False, val__pbar=False)
        del opt['val']['metrics']['ssim']
        return opt

    straight = run(tmp_path / 'a', options(tmp_path / 'a', 4))
    run(tmp_path / 'b', options(tmp_path / 'b', 2))
    resumed = run(tmp_path / 'b', options(tmp_path / 'b', 4), '--auto_resume')
    assert all(torch.equal(v, params(resumed, 4)[k]) for k, v in params(straight, 4).items())

    # The saved file holds x (evaluation); switching the saved optimiser to train mode gives other weights (y), and
    # back to eval mode the file's weights again.
    saved = params(straight, 2)
    net = MSRResNet(num_feat=8, num_block=1, upscale=4)
    net.load_state_dict(saved)
    optimizer = schedulefree.AdamWScheduleFree(net.parameters(), lr=1e-2)
    optimizer.load_state_dict(load_checkpoint(straight / 'training_states' / '2.state')['optimizers'][0])
    assert optimizer.param_groups[0]['train_mode'] is False
    optimizer.train()
    assert max_difference(net.state_dict(), saved) > 1e-5
    optimizer.eval()
    assert max_difference(net.state_dict(), saved) < 1e-6

    # validation measured the saved (evaluation) weights
    logged = dict(scalar_tags(tmp_path / 'a' / 'tb_logger' / 'tiny')['metrics/tiny_val/psnr'])
    opt = options(tmp_path / 'a', 4)
    test_opt = {'name': 'eval', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0,
                'datasets': {'test': opt['datasets']['val']}, 'network_g': opt['network_g'],
                'val': {'pbar': False, 'metrics': opt['val']['metrics']},
                'path': {'root': str(tmp_path / 'eval'), 'param_key_g': 'params',
                         'pretrain_network_g': str(straight / 'models' / 'net_g_2.pth')}}
    per_image = evaluate(argv=['-opt', str(write_yaml(tmp_path / 'test.yml', test_opt))])['tiny_val']
    assert logged[2] == pytest.approx(mean_metrics(per_image)['psnr'], abs=1e-4)


# ----------------------------------------------------------------------------------------- batch augmentations
def test_batch_augmentations_train_and_resume_bit_exactly(tmp_path):
    augment = [{'type': 'cutblur', 'prob': 0.5}, {'type': 'mixup', 'prob': 0.5}]

    def options(root: Path, total_iter: int) -> dict:
        return run_options(root, batch=2, total_iter=total_iter, train__batch_augment=augment)

    straight = run(tmp_path / 'a', options(tmp_path / 'a', 4))
    run(tmp_path / 'b', options(tmp_path / 'b', 2))
    resumed = run(tmp_path / 'b', options(tmp_path / 'b', 4), '--auto_resume')
    assert max_difference(params(straight, 2), params(straight, 4)) > 1e-4  # it trains
    assert all(torch.equal(v, params(resumed, 4)[k]) for k, v in params(straight, 4).items())
    # the augmentations drew from the model's generator, whose state is saved with the run
    drawn = load_checkpoint(straight / 'training_states' / '4.state')['augment_generator'][0]
    assert not torch.equal(drawn, torch.Generator().manual_seed(0).get_state())
    assert torch.equal(drawn, load_checkpoint(resumed / 'training_states' / '4.state')['augment_generator'][0])


# ----------------------------------------------------------------------------------------- NaN naming
def test_a_nan_loss_term_is_named_in_the_warning(tmp_path, monkeypatch, basicsr_log):
    monkeypatch.setattr(LDLLoss, 'forward', lambda self, *args, **kwargs: torch.tensor(float('nan')))
    opt = run_options(tmp_path, batch=2, total_iter=1, train__ema_decay=0.9,
                      train__losses=[{'type': 'L1Loss', 'loss_weight': 1.0}, {'type': 'LDLLoss', 'loss_weight': 1.0}])
    exp = run(tmp_path, opt)
    warnings = [line for line in basicsr_log.lines if 'non-finite' in line]
    assert len(warnings) == 1
    assert 'Iteration 1: non-finite loss term l_ldl (' in warnings[0] and 'step skipped' in warnings[0]
    assert 'l_l1 ' in warnings[0] and 'l_l1,' not in warnings[0]  # the finite term is listed, not blamed
    assert load_checkpoint(exp / 'training_states' / '1.state')['optimizers'][0]['state'] == {}  # Adam never stepped


# ----------------------------------------------------------------------------------------- recipes
TINY = ['train:total_iter=2', 'datasets:train:gt_size=64', 'logger:save_checkpoint_freq=2', *SHORT]


def test_psnr_recipe_trains_two_iterations(root):
    option_file = ROOT / 'options' / 'span_msssim_fft_x4.yml'
    exp, log = train(root, option_file, *TINY, *tiny_network(option_file))
    assert 'batch 2 x 1 process(es) x 4 accumulated micro-batches' in log
    for term in ('l_msssiml1:', 'l_fft:'):
        assert term in log, term
    assert 'Validation Set5' in log
    state = load_checkpoint(exp / 'training_states' / '2.state')
    assert state['accum_iter'] == 4 and state['optimizers'][0]['param_groups'][0]['train_mode'] is False
    assert max_difference(params(exp, 2), params(exp, 'latest')) == 0


def test_gan_recipe_trains_two_iterations(root, vgg19_weights):  # noqa: F811
    option_file = ROOT / 'options' / 'realplksr_realesrgan_x4.yml'
    exp, log = train(root, option_file, *TINY, *tiny_network(option_file), 'gt_size=64',
                     'datasets:train:crop_pad_size=136', 'network_d:num_feat=4', 'val:val_freq=2')
    for term in ('l_g_l1:', 'l_g_perceptual:', 'l_g_ldl:', 'l_g_focalfrequency:', 'l_g_gan:', 'l_d_real:'):
        assert term in log, term
    assert 'non-finite' not in log
    assert (exp / 'models' / 'net_g_2.pth').is_file() and (exp / 'models' / 'net_d_2.pth').is_file()
