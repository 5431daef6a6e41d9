"""Distributed training on the CPU (gloo, 2 processes started by torchrun): one set of outputs, the weights and
validation metrics of one process with the same global batch, and resume on every rank."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from basicsr.data.sampler import EnlargedSampler, ShardSampler
from basicsr.metrics import mean_metrics
from basicsr.test import test_pipeline as evaluate
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.dist_util import _export_slurm_env, init_dist
from basicsr.utils.errors import OptionError

from conftest import make_pairs, tiny_train_options, write_yaml
from test_training import scalar_tags

REPO = Path(__file__).resolve().parents[1]
BATCH_PER_RANK = 2


def five_image_options(root: Path, **updates) -> dict:
    """The tiny training, validated on 5 images (an odd count: 3 + 2 on two ranks)."""
    opt = tiny_train_options(root, val__pbar=False, **updates)
    hr, lr = make_pairs(root / 'val5', count=5, size=(32, 40), seed=100)
    opt['datasets']['val'].update(name='val5', dataroot_gt=str(hr), dataroot_lq=str(lr))
    return opt


def torchrun(opt_path: Path, *flags: str) -> None:
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
               str(REPO / 'train.py'), '-opt', str(opt_path), '--launcher', 'pytorch', *flags]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert done.returncode == 0, f'torchrun failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}'


def files_below(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob('*') if p.is_file())


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict:
    """One process with batch 4; two ranks with batch 2 each, stopped after the checkpoint of iteration 3 and
    continued with ``--auto_resume`` to iteration 6."""
    single_root, dist_root = tmp_path_factory.mktemp('single'), tmp_path_factory.mktemp('dist')
    single = five_image_options(single_root, datasets__train__batch_size_per_gpu=2 * BATCH_PER_RANK)
    train_pipeline(argv=['-opt', str(write_yaml(single_root / 'train.yml', single))])

    dist_opt = five_image_options(dist_root, datasets__train__batch_size_per_gpu=BATCH_PER_RANK,
                                  dist_params={'backend': 'gloo'})
    opt_path = write_yaml(dist_root / 'train.yml', dist_opt)
    torchrun(opt_path, '--force_yml', 'train:total_iter=3')
    after_first = files_below(dist_root)
    torchrun(opt_path, '--auto_resume')
    return {'single': single_root / 'experiments' / 'tiny', 'dist': dist_root / 'experiments' / 'tiny',
            'dist_root': dist_root, 'after_first': after_first, 'opt': dist_opt}


def test_only_rank_0_writes_one_set_of_outputs(runs):
    written = runs['after_first']
    assert [f for f in written if f.startswith('experiments/tiny/models/')] == ['experiments/tiny/models/net_g_3.pth',
                                                                            'experiments/tiny/models/net_g_latest.pth']
    assert [f for f in written if 'training_states/' in f] == ['experiments/tiny/training_states/3.state']
    assert len([f for f in written if f.endswith('.log')]) == 1
    assert len([f for f in written if 'tfevents' in f]) == 1
    assert sorted(f for f in written if '/visualization/' in f) == [
        f'experiments/tiny/visualization/img{i:02d}/img{i:02d}_3.png' for i in range(5)]
    log = next(runs['dist'].glob('train_tiny_*.log')).read_text()
    assert 'batch 2 x 2 process(es)' in log


def test_weights_equal_a_single_process_with_the_same_global_batch(runs):
    for iteration in (3, 6):
        dist_weights = load_checkpoint(runs['dist'] / 'models' / f'net_g_{iteration}.pth')
        single_weights = load_checkpoint(runs['single'] / 'models' / f'net_g_{iteration}.pth')
        for key in ('params', 'params_ema'):
            for name, tensor in single_weights[key].items():
                diff = (dist_weights[key][name] - tensor).abs().max().item()
                assert diff < 1e-5, f'iteration {iteration}, {key}.{name}: differs by {diff}'
    first = load_checkpoint(runs['dist'] / 'models' / 'net_g_3.pth')['params']
    last = load_checkpoint(runs['dist'] / 'models' / 'net_g_6.pth')['params']
    assert not torch.equal(first['conv_first.weight'], last['conv_first.weight'])


def test_resume_continues_from_the_saved_iteration_on_every_rank(runs):
    resumed_log = sorted(runs['dist'].glob('train_tiny_*.log'))[-1].read_text()
    assert 'Resuming training from epoch 1, iteration 3.' in resumed_log
    assert 'End of training: 6 iterations.' in resumed_log
    # Every rank's random generators are saved, and they differ (per-rank seeds). The run reaching iteration 6
    # at all also shows that both ranks resumed at 3 (else their collectives would not pair up), and saving
    # checks that the ranks' weights agree.
    state = load_checkpoint(runs['dist'] / 'training_states' / '6.state')
    assert state['iter'] == 6 and len(state['rng']) == 2
    assert not torch.equal(state['rng'][0]['torch'], state['rng'][1]['torch'])


def test_validation_over_ranks_reports_the_mean_of_one_process(runs):
    tags = scalar_tags(runs['dist_root'] / 'tb_logger' / 'tiny')
    logged = dict(tags['metrics/val5/psnr'])
    assert sorted(logged) == [3, 6]
    opt = runs['opt']
    for iteration in (3, 6):
        test_opt = {'name': f'eval_{iteration}', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0,
                    'datasets': {'test': {**opt['datasets']['val'], 'name': 'val5'}},
                    'network_g': opt['network_g'], 'val': {'pbar': False, 'metrics': opt['val']['metrics']},
                    'path': {'root': str(runs['dist_root']), 'param_key_g': 'params_ema',
                             'pretrain_network_g': str(runs['dist'] / 'models' / f'net_g_{iteration}.pth')}}
        per_image = evaluate(argv=['-opt', str(write_yaml(runs['dist_root'] / 'test.yml', test_opt))])['val5']
        assert len(per_image) == 5
        assert logged[iteration] == np.float32(mean_metrics(per_image)['psnr'])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('localhost', 0))
        return sock.getsockname()[1]


def test_slurm_launched_testing_writes_the_table_of_one_process(runs, tmp_path):
    """``srun -n 2 python test.py --launcher slurm`` on one node, imitated: two processes with Slurm's variables
    and an ``scontrol`` that names this machine."""
    (tmp_path / 'bin').mkdir()
    scontrol = tmp_path / 'bin' / 'scontrol'
    scontrol.write_text('#!/bin/sh\necho localhost\n')
    scontrol.chmod(0o755)
    opt = runs['opt']
    fid = {'type': 'calculate_fid', 'better': 'lower', 'pretrained': False}  # set-level: gathered from the ranks
    test_opt = {'name': 'eval', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0,
                'datasets': {'test': opt['datasets']['val']}, 'network_g': opt['network_g'],
                'val': {'pbar': False, 'save_img': True, 'metrics': {**opt['val']['metrics'], 'fid': fid}},
                'path': {'param_key_g': 'params_ema',
                         'pretrain_network_g': str(runs['dist'] / 'models' / 'net_g_6.pth')}}

    def rooted(name: str) -> dict:
        return {**test_opt, 'path': {**test_opt['path'], 'root': str(tmp_path / name)}}

    evaluate(argv=['-opt', str(write_yaml(tmp_path / 'single.yml', rooted('single')))])
    dist_opt = {**rooted('dist'), 'dist_params': {'backend': 'gloo', 'port': free_port()}}
    dist_path = write_yaml(tmp_path / 'dist.yml', dist_opt)
    env = {**os.environ, 'PATH': f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", 'OMP_NUM_THREADS': '1',
           'SLURM_NTASKS': '2', 'SLURM_NODELIST': 'localhost'}
    for key in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        env.pop(key, None)
    tasks = [subprocess.Popen([sys.executable, str(REPO / 'test.py'), '-opt', str(dist_path), '--launcher', 'slurm'],
                              cwd=REPO, env={**env, 'SLURM_PROCID': str(r), 'SLURM_LOCALID': str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for r in (0, 1)]
    outputs = [task.communicate(timeout=300)[0] for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], '\n'.join(o[-3000:] for o in outputs)
    single_table = (tmp_path / 'single' / 'results' / 'eval' / 'metrics.csv').read_text().splitlines()
    dist_table = (tmp_path / 'dist' / 'results' / 'eval' / 'metrics.csv').read_text().splitlines()
    assert len(single_table) == 1 + 5 + 1  # header, each image once, mean
    assert single_table[0] == 'dataset,image,fid,psnr,ssim'
    assert all(row.split(',')[2] == '' for row in single_table[1:-1])  # FID: one value for the set
    # per-image metrics are identical; the FID features differ in float rounding between processes
    fid = [float(table[-1].split(',')[2]) for table in (single_table, dist_table)]
    assert fid[0] > 0 and fid[1] == pytest.approx(fid[0], rel=1e-5)
    assert [row.split(',')[:2] + row.split(',')[3:] for row in dist_table] == [
        row.split(',')[:2] + row.split(',')[3:] for row in single_table]
    assert files_below(tmp_path / 'dist' / 'results' / 'eval' / 'visualization') == [
        f'val5/img{i:02d}_eval.png' for i in range(5)]


def test_ranks_together_take_the_batches_of_one_process():
    for epoch_size in (8, 9):  # 9: padded to 10 for two ranks
        single = list(EnlargedSampler(epoch_size, ratio=1, seed=5))
        ranks = [list(EnlargedSampler(epoch_size, num_replicas=2, rank=r, ratio=1, seed=5)) for r in (0, 1)]
        assert len(ranks[0]) == len(ranks[1]) == -(-epoch_size // 2)
        for start in range(0, epoch_size // 4 * 2, BATCH_PER_RANK):
            together = ranks[0][start:start + BATCH_PER_RANK] + ranks[1][start:start + BATCH_PER_RANK]
            assert sorted(together) == sorted(single[2 * start:2 * start + 2 * BATCH_PER_RANK])
        assert {index for rank in ranks for index, _ in rank} == set(range(epoch_size))


def test_evaluation_shards_hold_each_image_once():
    for world_size in (1, 2, 3, 7):
        shards = [list(ShardSampler(5, world_size, rank)) for rank in range(world_size)]
        assert sorted(i for shard in shards for i in shard) == list(range(5))
        assert [len(s) for s in shards] == [len(ShardSampler(5, world_size, r)) for r in range(world_size)]


def test_slurm_variables_become_torch_distributed_ones(tmp_path, monkeypatch):
    scontrol = tmp_path / 'scontrol'
    scontrol.write_text('#!/bin/sh\necho node7\necho node8\n')  # `scontrol show hostname node[7-8]`
    scontrol.chmod(0o755)
    monkeypatch.setenv('PATH', f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    for key in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.setenv(key, '')  # recorded, so the values set below are undone after the test
        monkeypatch.delenv(key)
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_NTASKS', '4')
    monkeypatch.setenv('SLURM_NODELIST', 'node[7-8]')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    _export_slurm_env(29123)
    assert {k: os.environ[k] for k in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK')} == {
        'MASTER_ADDR': 'node7', 'MASTER_PORT': '29123', 'RANK': '3', 'WORLD_SIZE': '4', 'LOCAL_RANK': '1'}


def test_launcher_mismatches_are_explained(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(OptionError, match='--launcher pytorch: the environment lacks RANK, WORLD_SIZE, '
                                          'MASTER_ADDR, MASTER_PORT; start it with torchrun'):
        init_dist('pytorch', 'gloo')
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(OptionError, match='--launcher none, but this is one of 2 processes'):
        init_dist('none')
