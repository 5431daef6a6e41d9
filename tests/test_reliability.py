"""Reliability: crashes survived exactly, non-finite steps skipped, bad input named, untrusted files refused."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.losses.pixel_loss import L1Loss
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import load_checkpoint, prune_checkpoints
from basicsr.utils.errors import CheckpointError, DataError, OptionError, TrainingError
from basicsr.utils.img_util import imfrombytes, imwrite
from basicsr.utils.lmdb_util import make_lmdb_from_imgs
from basicsr.utils.misc import folder_written_atomically, scan_images
from basicsr.utils.options import parse_options

from conftest import ROOT, make_pairs, synthetic_image, tiny_train_options, write_yaml


def run_training(tmp_path: Path, opt: dict, *flags: str) -> Path:
    train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'train.yml', opt)), *flags])
    return tmp_path / 'experiments' / opt['name']


def crash_options(tmp_path: Path, model_type: str = 'SRModel') -> dict:
    """A deterministic tiny run of 8 iterations saved every 2. ``RealESRNetModel``: trained on pairs degraded on the
    fly from a RealESRGANDataset, through a pool of 4 pairs (full from iteration 2 on, so resuming needs it)."""
    opt = tiny_train_options(tmp_path, deterministic=True, train__total_iter=8, logger__save_checkpoint_freq=2,
                             val__val_freq=100, logger__use_tb_logger=False, model_type=model_type)
    opt['datasets']['train']['num_worker_per_gpu'] = 1  # worker seeding is part of what must repeat
    if model_type == 'RealESRNetModel':
        train = opt['datasets']['train']
        opt['datasets']['train'] = {'name': train['name'], 'type': 'RealESRGANDataset',
                                    'dataroot_gt': train['dataroot_gt'], 'crop_pad_size': 48, 'use_hflip': True,
                                    'num_worker_per_gpu': 1, 'batch_size_per_gpu': 2, 'dataset_enlarge_ratio': 2}
        opt.update(gt_size=32, queue_size=4)
    return opt


def run_crashing(options: Path, moment: str, *flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / 'tests' / 'crash_driver.py'), str(options), moment, *flags],
                          env=env, capture_output=True, text=True, timeout=300)


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = load_checkpoint(a), load_checkpoint(b)
    assert set(first) == set(second) == {'params', 'params_ema', 'basicsr_network'}
    assert first['basicsr_network'] == second['basicsr_network']
    for key in ('params', 'params_ema'):
        for name, tensor in first[key].items():
            assert torch.equal(tensor, second[key][name]), f'{key}.{name} differs'


@pytest.mark.parametrize('model_type', ['SRModel', 'RealESRNetModel'])
def test_sigkill_after_and_during_checkpoint_then_auto_resume_is_exact(tmp_path, model_type):
    straight = run_training(tmp_path / 'straight', crash_options(tmp_path / 'straight', model_type))

    options = write_yaml(tmp_path / 'crash' / 'train.yml', crash_options(tmp_path / 'crash', model_type))
    exp = tmp_path / 'crash' / 'experiments' / 'tiny'
    killed = run_crashing(options, 'after_save:4')
    assert killed.returncode == -9, killed.stderr
    assert sorted(p.name for p in (exp / 'training_states').iterdir()) == ['2.state', '4.state']

    killed = run_crashing(options, 'writing:6.state', '--auto_resume')
    assert killed.returncode == -9, killed.stderr
    states = sorted(p.name for p in (exp / 'training_states').iterdir())
    assert '6.state' not in states and any(name.endswith('.tmp') for name in states)  # the half-written file
    assert (exp / 'models' / 'net_g_6.pth').is_file()  # networks of 6 complete, state not: resume from 4

    train_pipeline(argv=['-opt', str(options), '--auto_resume'])
    log = sorted(exp.glob('train_tiny_*.log'))[-1].read_text()
    assert 'Resuming training from epoch 0, iteration 4.' in log or 'iteration 4.' in log
    assert not any(p.name.endswith('.tmp') for p in (exp / 'training_states').iterdir())
    assert_same_weights(straight / 'models' / 'net_g_8.pth', exp / 'models' / 'net_g_8.pth')


KEEP, TOTAL = 3, 16


def kill_test_options(root: Path) -> dict:
    """16 deterministic iterations of a tiny network, a checkpoint every 2 (the last 3 kept), validation every 3."""
    opt = tiny_train_options(root, deterministic=True, train__total_iter=TOTAL, logger__save_checkpoint_freq=2,
                             logger__keep_last_checkpoints=KEEP, val__val_freq=3, val__save_img=False,
                             logger__use_tb_logger=False)
    opt['network_g'].update(num_feat=4)
    return opt


def test_twenty_random_sigkills_end_bit_identical_and_keep_every_complete_checkpoint(tmp_path):
    """SIGKILL at 20 random moments (training, validation, half-way through or between checkpoint files) with an
    unreadable state planted beside a real network file: each restart resumes from the newest valid checkpoint,
    no complete checkpoint is lost beyond keep_last_checkpoints, and the end equals an uninterrupted run."""
    options = write_yaml(tmp_path / 'crash.yml', kill_test_options(tmp_path / 'crash'))
    straight = write_yaml(tmp_path / 'straight.yml', kill_test_options(tmp_path / 'straight'))
    report_path = tmp_path / 'report.json'
    done = subprocess.run([sys.executable, str(ROOT / 'tests' / 'crash_driver.py'), 'trials', str(options),
                           str(straight), '20', '7', str(report_path)], env={**os.environ, 'PYTHONPATH': str(ROOT)},
                          capture_output=True, text=True, timeout=230)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    trials = report['trials']
    assert report['planted'] is not None and report['finish'] == 0 and report['straight'] == 0, report
    killed = [t for t in trials if t['code'] == -signal.SIGKILL]
    assert len(killed) >= 15, trials  # (a child may finish the run before its moment comes)
    for kind in ('training', 'validation', 'saving'):
        assert any(t['moment'].startswith(kind) for t in killed), (kind, trials)
    for trial in trials:
        assert trial['code'] in (0, -signal.SIGKILL), trial
        for kept in trial['before']:  # still there, or pruned because KEEP newer complete ones exist
            assert kept in trial['after'] or sum(i > kept for i in trial['after']) >= KEEP, trial
    crashed, reference = tmp_path / 'crash' / 'experiments' / 'tiny', tmp_path / 'straight' / 'experiments' / 'tiny'
    assert (crashed / 'training_states' / '1000.state').read_bytes().startswith(b'PK')  # planted, untouched
    last_kept = [TOTAL - 4, TOTAL - 2, TOTAL]
    assert _state_numbers(crashed) == [*last_kept, 1000] and _state_numbers(reference) == last_kept
    assert_same_weights(reference / 'models' / f'net_g_{TOTAL}.pth', crashed / 'models' / f'net_g_{TOTAL}.pth')
    final, expected = load_checkpoint(crashed / 'training_states' / f'{TOTAL}.state'), \
        load_checkpoint(reference / 'training_states' / f'{TOTAL}.state')
    for index, optimizer in enumerate(expected['optimizers']):
        for param_id, entry in optimizer['state'].items():
            for name, value in entry.items():
                assert torch.equal(value, final['optimizers'][index]['state'][param_id][name]), (param_id, name)
    assert final['rng'][0]['python'] == expected['rng'][0]['python']  # torch's: see the next test
    assert final['rng'][0]['numpy'][1].equal(expected['rng'][0]['numpy'][1])


def test_validation_after_a_checkpoint_leaves_the_generators_as_saved(tmp_path):
    """A run resumed from a checkpoint saved right before a validation draws what the uninterrupted run draws:
    creating the validation DataLoader's iterator must not move torch's generator (dropout, drop-path)."""
    straight = run_training(tmp_path / 'a', tiny_train_options(tmp_path / 'a', train__total_iter=4,
                                                                logger__save_checkpoint_freq=2, val__val_freq=2,
                                                                val__save_img=False, logger__use_tb_logger=False))
    opt = tiny_train_options(tmp_path / 'b', train__total_iter=4, logger__save_checkpoint_freq=2, val__val_freq=2,
                             val__save_img=False, logger__use_tb_logger=False)
    shutil.copytree(straight, tmp_path / 'b' / 'experiments' / 'tiny')
    resumed = tmp_path / 'b' / 'experiments' / 'tiny'
    (resumed / 'training_states' / '4.state').unlink()  # resume from 2, saved before the validation at 2
    run_training(tmp_path / 'b', opt, '--auto_resume')
    assert load_checkpoint(resumed / 'training_states' / '4.state')['rng'][0]['torch'].equal(
        load_checkpoint(straight / 'training_states' / '4.state')['rng'][0]['torch'])


def _state_numbers(experiment: Path) -> list[int]:
    return sorted(int(p.stem) for p in (experiment / 'training_states').glob('*.state'))


def test_keep_last_checkpoints_prunes_older_ones(tmp_path):
    exp = run_training(tmp_path, tiny_train_options(tmp_path, logger__save_checkpoint_freq=1,
                                                    logger__keep_last_checkpoints=2))
    assert sorted(p.name for p in (exp / 'models').iterdir()) == ['net_g_5.pth', 'net_g_6.pth', 'net_g_latest.pth']
    assert sorted(p.name for p in (exp / 'training_states').iterdir()) == ['5.state', '6.state']
    assert prune_checkpoints(exp / 'training_states', exp / 'models', 2) == []


# ----------------------------------------------------------------------------------------- non-finite steps
@pytest.fixture
def nan_at(monkeypatch):
    """Make L1Loss return NaN on the given (1-based) calls."""
    calls = {'n': 0, 'bad': set()}
    original = L1Loss.forward

    def forward(self, pred, target, weight=None):
        calls['n'] += 1
        loss = original(self, pred, target, weight)
        return loss * float('nan') if calls['n'] in calls['bad'] else loss

    monkeypatch.setattr(L1Loss, 'forward', forward)
    return calls['bad']


def all_saved_weights_finite(exp: Path) -> bool:
    return all(v.isfinite().all() for path in (exp / 'models').glob('*.pth')
               for key, params in load_checkpoint(path).items() if key.startswith('params') for v in params.values())


def test_a_nan_loss_is_skipped_and_training_goes_on(tmp_path, nan_at):
    nan_at.add(2)
    exp = run_training(tmp_path, tiny_train_options(tmp_path))
    log = next(exp.glob('train_tiny_*.log')).read_text()
    assert 'Iteration 2: non-finite loss term l_pix (l_pix nan); step skipped (1 in a row' in log
    assert (exp / 'models' / 'net_g_6.pth').is_file() and all_saved_weights_finite(exp)
    assert 'l_pix: nan' not in log  # the skipped step is not averaged into the logged loss


def test_a_run_of_nans_stops_with_a_clear_message(tmp_path, nan_at):
    nan_at.update(range(4, 100))
    with pytest.raises(TrainingError, match=r'iteration 6: 3 non-finite steps in a row \(non-finite loss term '
                                               r'l_pix; train.max_nonfinite_steps'):
        run_training(tmp_path, tiny_train_options(tmp_path, train__max_nonfinite_steps=3))
    exp = tmp_path / 'experiments' / 'tiny'
    assert sorted(p.name for p in (exp / 'models').iterdir()) == ['net_g_3.pth']
    assert all_saved_weights_finite(exp)


def test_a_non_finite_network_is_never_saved(tmp_path):
    from basicsr.models import build_model
    opt = parse_options(write_yaml(tmp_path / 'o.yml', tiny_train_options(tmp_path)))
    opt.update(dist=False, rank=0, world_size=1, auto_resume=False, num_gpu=0)
    model = build_model(opt)
    with torch.no_grad():
        model.net_g.conv_first.weight[0, 0, 0, 0] = float('inf')
    with pytest.raises(TrainingError, match=r"net_g \(params\) holds non-finite values in \['conv_first.weight'\]"):
        model.save(0, 1)
    assert not (tmp_path / 'experiments' / 'tiny' / 'models' / 'net_g_1.pth').exists()


# ----------------------------------------------------------------------------------------- untrusted files
class _CreatesAFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), 'w')


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'created_by_unpickling'
    evil = tmp_path / 'evil.pth'
    torch.save({'params': {'conv_first.weight': _CreatesAFile(marker)}}, evil)
    opt = tiny_train_options(tmp_path, path__pretrain_network_g=str(evil))
    with pytest.raises(CheckpointError, match='evil.pth: refused to load'):
        run_training(tmp_path, opt)
    assert not marker.exists()

    script = ROOT / 'scripts' / 'net_interp.py'
    result = subprocess.run([sys.executable, str(script), '--alpha', '0.5', '--net_psnr', str(evil),
                             '--net_esrgan', str(evil), '--output', str(tmp_path / 'out.pth')],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and 'evil.pth' in result.stderr + result.stdout
    assert not marker.exists() and not (tmp_path / 'out.pth').exists()


def test_relative_output_paths_cannot_leave_the_root(tmp_path):
    with pytest.raises(OptionError, match="name: must be a plain name"):
        parse_options(write_yaml(tmp_path / 'o.yml', tiny_train_options(tmp_path, name='../../elsewhere')))
    opt = tiny_train_options(tmp_path, path__experiments_root='../outside')
    with pytest.raises(OptionError, match="path.experiments_root: '../outside' leads outside"):
        parse_options(write_yaml(tmp_path / 'o.yml', opt))
    absolute = tmp_path.parent / f'{tmp_path.name}_abs'
    opt = tiny_train_options(tmp_path, path__experiments_root=str(absolute))
    assert parse_options(write_yaml(tmp_path / 'o.yml', opt))['path']['models'] == str(absolute / 'models')


# ----------------------------------------------------------------------------------------- bad options
def _set(opt: dict, dotted: str, value) -> dict:
    *parents, key = dotted.split('.')
    target = opt
    for part in parents:
        target = target[part]
    target[key] = value
    return opt


BAD_OPTIONS = [  # (change, text the message must contain)
    (lambda o, t: 'name: x\ndatasets: {a: 1\n  b: [2\nmodel_type: SRModel\n', 'bad.yml, line 3, column 4: invalid YAML'),
    (lambda o, t: _set(o, 'datasets.train.bacth_size_per_gpu', 4), "Did you mean 'batch_size_per_gpu'?"),
    (lambda o, t: _set(o, 'train.total_iter', 'many'), 'train.total_iter'),
    (lambda o, t: _set(o, 'train.optim_g.lr', -1e-4), 'train.optim_g.lr: must be > 0, got -0.0001'),
    (lambda o, t: _set(o, 'train.pixel_opt.loss_weight', -1), 'train.pixel_opt.loss_weight: must be >= 0'),
    (lambda o, t: _set(o, 'datasets.train.gt_size', 30), 'datasets.train.gt_size: must be a positive multiple of'),
    (lambda o, t: _set(o, 'scale', 0), 'scale: must be > 0'),
    (lambda o, t: _set(o, 'datasets.train.dataroot_gt', str(t / 'nowhere')),
     'datasets.train.dataroot_gt: ' + '{tmp}/nowhere does not exist'),
    (lambda o, t: _set(o, 'datasets.val.dataroot_lq', str(t / 'no_lq')), 'datasets.val.dataroot_lq: '),
    (lambda o, t: _set(o, 'network_g.type', 'MSRResNett'), "network_g.type"),
    (lambda o, t: {k: v for k, v in o.items() if k != 'model_type'}, 'model_type: required but missing'),
]


@pytest.mark.parametrize('change, expected', BAD_OPTIONS)
def test_bad_options_fail_before_any_work_naming_the_key(tmp_path, change, expected):
    changed = change(tiny_train_options(tmp_path), tmp_path)
    path = tmp_path / 'bad.yml'
    path.write_text(changed if isinstance(changed, str) else yaml.safe_dump(changed))
    with pytest.raises(OptionError) as info:
        train_pipeline(argv=['-opt', str(path)])
    assert expected.format(tmp=tmp_path) in str(info.value)
    assert not (tmp_path / 'experiments').exists()  # nothing was started


# ----------------------------------------------------------------------------------------- bad data
def _corrupt(folder: Path, name: str, data: bytes) -> None:
    (folder / name).write_bytes(data)


def _truncate(folder: Path, name: str) -> None:
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[:len(data) // 3])


def _lmdb_pair(tmp_path: Path, hr: Path, lr: Path, drop_lq: str | None = None) -> tuple[str, str]:
    out = []
    for folder, tag in ((hr, 'gt'), (lr, 'lq')):
        names = [n for n in scan_images(folder) if tag == 'gt' or n != drop_lq]
        target = tmp_path / f'{tag}.lmdb'
        make_lmdb_from_imgs(str(folder), str(target), names, [n.rsplit('.', 1)[0] for n in names], progress=False)
        out.append(str(target))
    return out[0], out[1]


def _build(tmp_path: Path, case: str) -> PairedImageDataset:
    hr, lr = make_pairs(tmp_path, count=2, size=(48, 60))
    kwargs = dict(gt_size=32, scale=4)
    if case == 'unreadable':
        _corrupt(hr, 'img01.png', b'this is not an image at all')
    elif case == 'truncated':
        _truncate(hr, 'img01.png')
    elif case == 'zero_bytes':
        _corrupt(hr, 'img01.png', b'')
    elif case == 'size_mismatch':
        imwrite(synthetic_image(5, 10, 12), lr / 'img01.png')
    elif case == 'smaller_than_gt_size':
        kwargs['gt_size'] = 64
    elif case == 'names_differ':
        (lr / 'img01.png').rename(lr / 'img_other.png')
    elif case == 'meta_info_missing_file':
        (tmp_path / 'meta.txt').write_text('img00.png (48,60,3)\nimg07.png (48,60,3)\n')
        kwargs['meta_info_file'] = str(tmp_path / 'meta.txt')
    elif case == 'lmdb_key_missing':
        gt, lq = _lmdb_pair(tmp_path, hr, lr, drop_lq='img01.png')
        return PairedImageDataset(gt, lq, io_backend={'type': 'lmdb'}, **kwargs)
    return PairedImageDataset(str(hr), str(lr), **kwargs)


BAD_DATA = [
    ('unreadable', 'HR/img01.png: not a readable image'),
    ('truncated', 'HR/img01.png: not a readable image'),
    ('zero_bytes', 'HR/img01.png: the file is empty (0 bytes)'),
    ('size_mismatch', 'HR/img01.png (60x48) and '),
    ('smaller_than_gt_size', 'HR/img00.png (60x48) is smaller than the GT patch size 64x64'),
    ('names_differ', 'img01.png: no LQ image img01.png'),
    ('meta_info_missing_file', 'meta.txt, line 2: img07.png does not exist'),
    ('lmdb_key_missing', "lq.lmdb: has no key 'img01'"),
]


@pytest.mark.parametrize('case, expected', BAD_DATA)
def test_bad_data_names_the_file(tmp_path, case, expected):
    with pytest.raises(DataError) as info:
        dataset = _build(tmp_path, case)
        for index in range(len(dataset)):
            dataset[(index, 'seed')]
    assert expected in str(info.value)


# ----------------------------------------------------------------------------------------- fuzzing
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes_as_an_image_give_an_image_or_a_data_error(data):
    try:
        img = imfrombytes(data, source='fuzz.png')
    except DataError as err:
        assert 'fuzz.png' in str(err)
    else:
        assert isinstance(img, np.ndarray) and img.ndim == 3


_KEYS = st.sampled_from(['name', 'model_type', 'scale', 'datasets', 'train', 'val', 'network_g', 'type', 'path',
                         'total_iter', 'optim_g', 'lr', 'metrics', 'logger', 'gt_size', 'num_gpu', 'x'])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=8), st.sampled_from(['SRModel', 'MSRResNet', 'Adam', 'train', 'L1Loss']))
_YAML_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(_KEYS, inner, max_size=5)),
                            max_leaves=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.one_of(st.dictionaries(_KEYS, _YAML_VALUES, max_size=8), st.text(max_size=80)))
def test_random_yaml_gives_options_or_an_option_error(tmp_path, document):
    path = tmp_path / 'fuzz.yml'
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    for is_train in (True, False):
        try:
            parse_options(path, is_train=is_train, root_path=tmp_path)
        except OptionError as err:  # anything else (a TypeError from deep inside, ...) fails the test
            assert str(err).strip()


def test_checkpoints_get_the_usual_file_permissions(tmp_path):
    from basicsr.utils.checkpoint import save_checkpoint
    old = os.umask(0o022)
    try:
        save_checkpoint({'x': torch.zeros(1)}, tmp_path / 'a.pth')
    finally:
        os.umask(old)
    assert (tmp_path / 'a.pth').stat().st_mode & 0o777 == 0o644


def test_a_folder_written_atomically_replaces_the_old_one_only_when_complete(tmp_path):
    target = tmp_path / 'out'
    target.mkdir()
    (target / 'old.txt').write_text('old')
    with pytest.raises(RuntimeError, match='interrupted'):
        with folder_written_atomically(target) as tmp:
            (tmp / 'new.txt').write_text('new')
            raise RuntimeError('interrupted')
    assert [p.name for p in target.iterdir()] == ['old.txt']  # the old folder is untouched
    with folder_written_atomically(target) as tmp:
        (tmp / 'new.txt').write_text('new')
    assert [p.name for p in target.iterdir()] == ['new.txt']
    assert [p.name for p in tmp_path.iterdir()] == ['out']  # no temporary folder left
