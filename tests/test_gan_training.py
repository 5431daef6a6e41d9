"""SRGAN/ESRGAN training: the update schedule of G and D, what is logged, saving and exact resuming of both
networks and optimisers, TensorBoard image grids, and the shipped GAN option files."""
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from basicsr.archs import build_network
from basicsr.models import build_model
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.options import parse_options

from conftest import ROOT, make_pairs, tiny_train_options, write_yaml

GAN_TRAIN = {
    'optim_d': {'type': 'Adam', 'lr': 1e-3, 'betas': [0.9, 0.99]},
    'perceptual_opt': {'type': 'PerceptualLoss', 'layer_weights': {'conv2_2': 1.0}, 'pretrained': False},
    'gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 5e-3},
}
TINY_D = {'type': 'SRGANDiscriminator', 'num_feat': 4, 'input_size': 32}
LOGGED = ('l_g_pix', 'l_g_percep', 'l_g_gan', 'l_d_real', 'l_d_fake', 'out_d_real', 'out_d_fake')


def gan_options(tmp_path: Path, model_type: str = 'SRGANModel', **train_updates) -> dict:
    opt = tiny_train_options(tmp_path)
    opt.update(model_type=model_type, network_d=dict(TINY_D))
    opt['train'].update(GAN_TRAIN, **train_updates)
    return opt


def build_from(tmp_path: Path, opt: dict):
    parsed = parse_options(write_yaml(tmp_path / 'opt.yml', opt), is_train=True)
    parsed.update(dist=False, rank=0, world_size=1, auto_resume=False)
    return build_model(parsed)


def snapshot(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def changed(before: list[torch.Tensor], net: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


@pytest.mark.parametrize('model_type', ['SRGANModel', 'ESRGANModel'])
def test_d_every_iteration_g_every_net_d_iters_after_init_iters(tmp_path, model_type):
    model = build_from(tmp_path, gan_options(tmp_path, model_type, net_d_iters=2, net_d_init_iters=2,
                                             ema_decay=0.0))
    torch.manual_seed(0)
    batch = {'lq': torch.rand(2, 3, 8, 8), 'gt': torch.rand(2, 3, 32, 32)}
    g_updates, d_updates = [], []
    for current_iter in range(1, 7):
        g_before, d_before = snapshot(model.net_g), snapshot(model.net_d)
        model.feed_data(batch)
        model.optimize_parameters(current_iter)
        g_updates.append(changed(g_before, model.net_g))
        d_updates.append(changed(d_before, model.net_d))
        log = model.get_current_log()
        assert {'l_d_real', 'l_d_fake', 'out_d_real', 'out_d_fake'} <= set(log)
        assert ('l_g_gan' in log) == g_updates[-1]
    assert d_updates == [True] * 6
    assert g_updates == [False, False, False, True, False, True]  # frozen up to 2, then every 2nd iteration
    assert all(p.requires_grad for p in model.net_d.parameters())
    assert len(model.optimizers) == len(model.schedulers) == 2


def test_srgan_starts_from_pretrained_networks_and_keeps_g_frozen(tmp_path):
    torch.manual_seed(0)
    opt = gan_options(tmp_path, net_d_init_iters=3, ema_decay=0.0)
    g_file, d_file = tmp_path / 'g.pth', tmp_path / 'd.pth'
    torch.save({'params': build_network(opt['network_g']).state_dict()}, g_file)
    torch.save({'params': build_network(opt['network_d']).state_dict()}, d_file)
    opt['path'].update(pretrain_network_g=str(g_file), pretrain_network_d=str(d_file))
    train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'train.yml', opt))])
    models = tmp_path / 'experiments' / 'tiny' / 'models'
    g_start, d_start = load_checkpoint(g_file)['params'], load_checkpoint(d_file)['params']
    g_3, d_3 = load_checkpoint(models / 'net_g_3.pth')['params'], load_checkpoint(models / 'net_d_3.pth')['params']
    assert all(torch.equal(g_3[k], v) for k, v in g_start.items())  # G frozen for net_d_init_iters
    assert any(not torch.equal(d_3[k], v) for k, v in d_start.items())
    g_6 = load_checkpoint(models / 'net_g_6.pth')['params']
    assert any(not torch.equal(g_6[k], v) for k, v in g_start.items())
    log = next((tmp_path / 'experiments' / 'tiny').glob('train_tiny_*.log')).read_text()
    assert f'Loaded SRGANDiscriminator from {d_file}' in log
    assert all(f'{name}:' in log for name in LOGGED)


def esrgan_argv(tmp_path: Path, total_iter: int, *flags: str) -> list[str]:
    """options/esrgan_x4.yml as shipped, pointed at tiny synthetic data with tiny networks and iteration counts."""
    train_hr, train_lr = make_pairs(tmp_path / 'train', count=2, size=(128, 136))
    val_hr, val_lr = make_pairs(tmp_path / 'val', count=1, size=(32, 40), seed=100)
    overrides = [
        f'path:root={tmp_path}', 'path:pretrain_network_g=~', 'num_gpu=0',
        f'datasets:train:dataroot_gt={train_hr}', f'datasets:train:dataroot_lq={train_lr}',
        'datasets:train:num_worker_per_gpu=0', 'datasets:train:batch_size_per_gpu=2',
        'datasets:train:dataset_enlarge_ratio=2',
        f'datasets:val:dataroot_gt={val_hr}', f'datasets:val:dataroot_lq={val_lr}',
        'network_g:num_feat=8', 'network_g:num_block=1', 'network_g:num_grow_ch=4', 'network_d:num_feat=4',
        'train:perceptual_opt:pretrained=false', 'train:perceptual_opt:layer_weights={conv2_2: 1}',
        f'train:total_iter={total_iter}', 'train:scheduler:milestones=[3]',
        'val:val_freq=2', 'logger:print_freq=1', 'logger:save_checkpoint_freq=2',
    ]
    return ['-opt', str(ROOT / 'options' / 'esrgan_x4.yml'), '--force_yml', *overrides, *flags]


def test_esrgan_option_file_trains_saves_and_resumes_both_networks_exactly(tmp_path):
    name = '052_ESRGAN_x4_f64b23_DIV2K_400k_B16G1'
    train_pipeline(argv=esrgan_argv(tmp_path / 'a', 3))
    train_pipeline(argv=esrgan_argv(tmp_path / 'b', 2))  # "interrupted" after iteration 2
    train_pipeline(argv=esrgan_argv(tmp_path / 'b', 3, '--auto_resume'))
    straight, resumed = tmp_path / 'a' / 'experiments' / name, tmp_path / 'b' / 'experiments' / name

    assert sorted(p.name for p in (straight / 'models').iterdir()) == [
        'net_d_2.pth', 'net_d_3.pth', 'net_d_latest.pth', 'net_g_2.pth', 'net_g_3.pth', 'net_g_latest.pth']
    for net, keys in (('net_g', ('params', 'params_ema')), ('net_d', ('params',))):
        final_a = load_checkpoint(straight / 'models' / f'{net}_3.pth')
        final_b = load_checkpoint(resumed / 'models' / f'{net}_3.pth')
        assert set(final_a) == {*keys, 'basicsr_network'}
        for key in keys:
            for tensor_name, tensor in final_a[key].items():
                assert torch.equal(tensor, final_b[key][tensor_name]), f'{net} {key}.{tensor_name} differs'
    state_a = load_checkpoint(straight / 'training_states' / '3.state')
    state_b = load_checkpoint(resumed / 'training_states' / '3.state')
    assert len(state_a['optimizers']) == len(state_a['schedulers']) == 2  # G and D
    for opt_a, opt_b in zip(state_a['optimizers'], state_b['optimizers']):
        for param_id, moments in opt_a['state'].items():
            assert torch.equal(moments['exp_avg'], opt_b['state'][param_id]['exp_avg'])
    assert [g['lr'] for o in state_a['optimizers'] for g in o['param_groups']] == [5e-5, 5e-5]  # milestone 3

    log = sorted(resumed.glob(f'train_{name}_*.log'))[-1].read_text()
    assert 'Resuming training from epoch' in log and 'iteration 2' in log
    assert f'Loaded VGGStyleDiscriminator from {resumed / "models" / "net_d_2.pth"}' in log
    first_log = next(straight.glob(f'train_{name}_*.log')).read_text()
    assert all(f'{key}:' in first_log for key in LOGGED) and '# psnr:' in first_log
    assert (straight / 'visualization' / 'img00' / 'img00_3.png').is_file()

    events = EventAccumulator(str(next((tmp_path / 'a' / 'tb_logger' / name).glob('events.out.tfevents.*'))))
    events.Reload()
    assert 'images/Set14/img00' in events.Tags()['images']  # bicubic | SR | GT grid
    grid = events.Images('images/Set14/img00')[-1]
    assert (grid.width, grid.height) == (3 * 40, 32)
    assert {'losses/l_g_gan', 'losses/l_d_real', 'out_d_real'} <= set(events.Tags()['scalars'])


@pytest.mark.parametrize('path', ['options/srgan_x4.yml', 'options/esrgan_x4.yml',
                                  'options/demo/train_esrgan_x4_demo.yml'])
def test_gan_option_files_validate(path):
    opt = parse_options(ROOT / path, is_train=True, root_path=str(ROOT))
    assert opt['model_type'] in ('SRGANModel', 'ESRGANModel')
    assert opt['datasets']['train']['gt_size'] == opt['network_d']['input_size']
