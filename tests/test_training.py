"""End-to-end training and testing on tiny synthetic data: files, logs, TensorBoard, resume, test tables."""
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from basicsr.test import test_pipeline as evaluate
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import load_checkpoint

from conftest import tiny_train_options, write_yaml


def run_training(tmp_path: Path, opt: dict, *flags: str) -> Path:
    path = write_yaml(tmp_path / 'train.yml', opt)
    train_pipeline(argv=['-opt', str(path), *flags])
    return tmp_path / 'experiments' / opt['name']


def scalar_tags(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    tags = {}
    for events in log_dir.glob('events.out.tfevents.*'):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()['scalars']:
            tags.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return tags


def test_training_writes_checkpoints_logs_and_tensorboard(tmp_path):
    exp = run_training(tmp_path, tiny_train_options(tmp_path))
    assert sorted(p.name for p in (exp / 'models').iterdir()) == ['net_g_3.pth', 'net_g_6.pth', 'net_g_latest.pth']
    assert sorted(p.name for p in (exp / 'training_states').iterdir()) == ['3.state', '6.state']
    checkpoint = load_checkpoint(exp / 'models' / 'net_g_6.pth')
    assert set(checkpoint) == {'params', 'params_ema', 'basicsr_network'}  # weights and what network they are
    assert not torch.equal(checkpoint['params']['conv_first.weight'], checkpoint['params_ema']['conv_first.weight'])
    state = load_checkpoint(exp / 'training_states' / '6.state')
    assert state['iter'] == 6 and len(state['optimizers']) == 1
    log = next(exp.glob('train_tiny_*.log')).read_text()
    assert 'l_pix:' in log and 'lr:(' in log and '# psnr:' in log and '# ssim:' in log
    assert (exp / 'options.yml').is_file()
    assert (exp / 'visualization' / 'img00' / 'img00_6.png').is_file()
    tags = scalar_tags(tmp_path / 'tb_logger' / 'tiny')
    assert {'losses/l_pix', 'lr', 'metrics/tiny_val/psnr', 'metrics/tiny_val/ssim'} <= set(tags)
    assert [step for step, _ in tags['metrics/tiny_val/psnr']] == [3, 6]
    lr_by_step = dict(tags['lr'])
    assert lr_by_step[3] == pytest.approx(1e-3) and lr_by_step[6] == pytest.approx(5e-4)  # milestone 4, gamma .5


def test_auto_resume_continues_exactly(tmp_path):
    straight = run_training(tmp_path / 'a', tiny_train_options(tmp_path / 'a'))
    opt = tiny_train_options(tmp_path / 'b')
    run_training(tmp_path / 'b', {**opt, 'train': {**opt['train'], 'total_iter': 3}})  # "interrupted" at 3
    resumed = run_training(tmp_path / 'b', opt, '--auto_resume')
    log = sorted(resumed.glob('train_tiny_*.log'))[-1].read_text()
    assert 'Resuming training from epoch' in log and 'iteration 3' in log
    final_a = load_checkpoint(straight / 'models' / 'net_g_6.pth')
    final_b = load_checkpoint(resumed / 'models' / 'net_g_6.pth')
    for key in ('params', 'params_ema'):
        for name, tensor in final_a[key].items():
            assert torch.equal(tensor, final_b[key][name]), f'{key}.{name} differs after resume'


def test_test_pipeline_writes_images_and_metrics_table(tmp_path):
    exp = run_training(tmp_path, tiny_train_options(tmp_path))
    opt = tiny_train_options(tmp_path)
    del opt['train'], opt['datasets']['train']
    opt['path']['pretrain_network_g'] = str(exp / 'models' / 'net_g_6.pth')
    opt['path']['param_key_g'] = 'params_ema'
    path = write_yaml(tmp_path / 'test.yml', opt)
    results = evaluate(argv=['-opt', str(path)])
    assert set(results['tiny_val']) == {'img00', 'img01'}
    table = (tmp_path / 'results' / 'tiny' / 'metrics.csv').read_text().splitlines()
    assert table[0] == 'dataset,image,psnr,ssim'
    assert table[-1].startswith('tiny_val,mean,')
    mean_psnr = float(table[-1].split(',')[2])
    assert mean_psnr == pytest.approx(sum(r['psnr'] for r in results['tiny_val'].values()) / 2, abs=1e-5)
    assert (tmp_path / 'results' / 'tiny' / 'visualization' / 'tiny_val' / 'img00_tiny.png').is_file()
