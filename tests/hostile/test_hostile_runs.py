"""Hostile input (issue 26): planted training states, pruning beside an unreadable state, two runs in one folder,
downloads that trickle or cannot be verified or would write outside, code planted in the working folder, and the
modes of folders written at once."""
import copy
import hashlib
import io
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from basicsr.archs.srresnet_arch import MSRResNet
from basicsr.test import test_pipeline as evaluate
from basicsr.train import main as train_main
from basicsr.utils import download_util
from basicsr.utils.checkpoint import (check_network_state, check_training_state, load_resumable_state,
                                      newest_valid_states, prune_checkpoints, remove_stale_temporaries,
                                      save_checkpoint)
from basicsr.utils.download_util import download, load_file_from_url
from basicsr.utils.errors import CheckpointError, DownloadError, RunLockError
from basicsr.utils.misc import folder_written_atomically, mkdir_and_rename
from basicsr.utils.run_lock import acquire_run_lock, lock_owner, lock_path
from conftest import make_pairs, tiny_train_options, write_yaml

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------------- planted training states
def _live(fused: bool = False) -> tuple[torch.nn.Module, torch.optim.Optimizer, object]:
    """A network after one real Adam step, its optimiser and schedule (what a resumed run holds)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 3, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused)
    net(torch.rand(1, 3, 8, 8)).square().mean().backward()
    optimizer.step()
    return net, optimizer, torch.optim.lr_scheduler.MultiStepLR(optimizer, [4])


def _state(optimizer, schedule, iteration: int = 4) -> dict:
    return {'epoch': 0, 'iter': iteration, 'iter_in_epoch': 2, 'optimizers': [optimizer.state_dict()],
            'schedulers': [schedule.state_dict()], 'grad_scalers': [], 'networks': ['g'],
            'rng': [{'python': random.getstate(), 'torch': torch.get_rng_state(),
                     'numpy': ('MT19937', torch.from_numpy(np.random.get_state()[1].astype(np.int64)), 624, 0, 0.0)}]}


def _set(path: str, value):
    def change(state):
        *keys, last = path.split('.')
        target = state
        for key in keys:
            target = target[int(key) if key.isdigit() else key]
        target[int(last) if last.isdigit() else last] = value
    return change


PLANTED = [
    ('exp_avg of the wrong shape', _set('optimizers.0.state.0.exp_avg', torch.zeros(7)),
     "'exp_avg' of parameter 0: shape (7,), the parameter has (4, 3, 3, 3)"),
    ('exp_avg_sq of an integer dtype', _set('optimizers.0.state.1.exp_avg_sq', torch.zeros(4, dtype=torch.int64)),
     "'exp_avg_sq' of parameter 1: dtype torch.int64"),
    ('a step that is not a scalar', _set('optimizers.0.state.0.step', torch.zeros(2)), "'step' of parameter 0"),
    ('a param group too many', lambda s: s['optimizers'][0]['param_groups'].append(
        {**s['optimizers'][0]['param_groups'][0], 'params': [9]}), '2 param group(s) in the file, 1 in the model'),
    ('a parameter fewer', lambda s: (s['optimizers'][0]['param_groups'][0]['params'].pop(),
                                     s['optimizers'][0]['state'].pop(3)),
     'param group 0 holds 3 parameters in the file, 4 in the model'),
    ('a hyper-parameter missing', lambda s: s['optimizers'][0]['param_groups'][0].pop('betas'), 'missing betas'),
    ('a learning rate that is text', _set('optimizers.0.param_groups.0.lr', 'fast'), "'lr' is a str"),
    ('no optimiser', _set('optimizers', []), 'it holds 0 optimiser state(s), the model has 1'),
    ('python RNG of the wrong type', _set('rng.0.python', (3, (1, 2), None)), "'rng[0]': 'python' is not"),
    ('numpy RNG keys as floats', _set('rng.0.numpy', ('MT19937', torch.zeros(624), 0, 0, 0.0)),
     "'rng[0]': 'numpy' is not"),
    ('torch RNG not a ByteTensor', _set('rng.0.torch', torch.zeros(5056)), "'torch' is not a ByteTensor"),
    ('torch RNG too short', _set('rng.0.torch', torch.zeros(8, dtype=torch.uint8)), "'torch' holds 8 bytes"),
    ('schedule keys missing', lambda s: s['schedulers'][0].pop('base_lrs'), 'schedule 0: missing base_lrs'),
    ('no schedule', _set('schedulers', []), 'it holds 0 schedule state(s), the model has 1'),
    ('iteration 10^12', lambda s: s.update(iter=10 ** 12), "'iter' (1000000000000) is beyond train.total_iter (100)"),
    ('iter_in_epoch 10^9', _set('iter_in_epoch', 10 ** 9), "'iter_in_epoch' (1000000000) is larger than 'iter'"),
    ('iter_in_epoch beyond an epoch', _set('iter_in_epoch', 4), "is beyond the 3 iterations of an epoch"),
    ('epoch as text', _set('epoch', '0'), "'epoch' (the epoch) is a str"),
]


@pytest.mark.parametrize('fused', [False, True], ids=['unfused', 'fused'])
@pytest.mark.parametrize('what, plant, problem', PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_state_is_one_line_naming_the_file_and_the_mismatch(tmp_path, fused, what, plant, problem):
    net, optimizer, schedule = _live(fused)
    state = _state(optimizer, schedule)
    check_training_state(copy.deepcopy(state), [optimizer], [schedule], [], 100, tmp_path / '4.state', 4)
    plant(state)
    with pytest.raises(CheckpointError) as info:
        check_training_state(state, [optimizer], [schedule], [], 100, tmp_path / '4.state', iters_per_epoch=3)
    message = str(info.value)
    assert message.startswith(f'{tmp_path / "4.state"}: ') and problem in message and '\n' not in message


@pytest.mark.parametrize('fused', [False, True], ids=['unfused', 'fused'])
def test_a_state_that_passes_the_checks_loads_and_steps(fused):
    """What the checks accept really loads: the state of one run, into a fresh run of the same network."""
    net, optimizer, schedule = _live(fused)
    state = torch.load(_roundtrip(_state(optimizer, schedule)), weights_only=True)
    fresh, fresh_optimizer, fresh_schedule = _live(fused)
    check_training_state(state, [fresh_optimizer], [fresh_schedule], [], 4, 'x.state')
    fresh_optimizer.load_state_dict(state['optimizers'][0])
    fresh(torch.rand(1, 3, 8, 8)).mean().backward()
    fresh_optimizer.step()
    assert int(fresh_optimizer.state_dict()['state'][0]['step']) == 2


def _roundtrip(obj) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


def test_a_network_file_is_checked_against_the_network(tmp_path):
    net = torch.nn.Conv2d(3, 4, 3)
    check_network_state(net.state_dict(), net, 'n.pth')
    for bad, problem in [({'weight': torch.zeros(4, 3, 3, 3)}, "missing ['bias']"),
                         ({**net.state_dict(), 'weight': torch.zeros(4, 3, 5, 5)}, "'weight' is torch.float32 (4, 3, 5, 5)"),
                         ({**net.state_dict(), 'bias': torch.zeros(4, dtype=torch.int64)}, "'bias' is torch.int64")]:
        with pytest.raises(CheckpointError, match='^n.pth: ') as info:
            check_network_state(bad, net, 'n.pth')
        assert problem in str(info.value)


# ------------------------------------------------------------------ pruning and resume beside planted states
def _checkpoint(folder: Path, iteration: int, state: dict | bytes) -> None:
    save_checkpoint({'params': {'w': torch.full((2,), float(iteration))}}, folder / 'models' / f'net_g_{iteration}.pth')
    target = folder / 'training_states' / f'{iteration}.state'
    if isinstance(state, bytes):
        target.write_bytes(state)
    else:
        save_checkpoint({**state, 'iter': iteration, 'iter_in_epoch': iteration}, target)


def _numbers(folder: Path, sub: str, pattern: str) -> list[int]:
    return sorted(int(p.stem.rsplit('_', 1)[-1]) for p in (folder / sub).glob(pattern))


def test_pruning_beside_an_unreadable_state_keeps_the_newest_complete_checkpoint(tmp_path):
    """Issue 26 (a): an unreadable 1000.state beside net_g_1000.pth made keep_last_checkpoints: 1 delete 2, 4, 6 and
    the 8 just written."""
    _, optimizer, schedule = _live()
    for iteration in (2, 4, 6, 8):
        _checkpoint(tmp_path, iteration, _state(optimizer, schedule))
    _checkpoint(tmp_path, 1000, b'PK\x03\x04 damaged')
    deleted = prune_checkpoints(tmp_path / 'training_states', tmp_path / 'models', 1)
    assert sorted(p.name for p in deleted) == ['2.state', '4.state', '6.state', 'net_g_2.pth', 'net_g_4.pth',
                                               'net_g_6.pth']
    assert _numbers(tmp_path, 'training_states', '*.state') == [8, 1000]
    assert [p.name for p, _ in newest_valid_states(tmp_path / 'training_states', tmp_path / 'models', 5)] == ['8.state']


def test_pruning_counts_only_states_that_fit_the_run_and_keeps_the_protected_one(tmp_path):
    _, optimizer, schedule = _live()
    for iteration in (2, 4, 6, 50):  # 50: a state in itself, but beyond this run's 10 iterations
        _checkpoint(tmp_path, iteration, _state(optimizer, schedule))
    states, models = tmp_path / 'training_states', tmp_path / 'models'
    prune_checkpoints(states, models, 2, total_iter=10)  # 50 does not count: 4 and 6 are the newest two
    assert _numbers(tmp_path, 'training_states', '*.state') == [4, 6, 50]
    prune_checkpoints(states, models, 1, protect=6)  # 50 counts now, but 6 (just written) is never deleted
    assert _numbers(tmp_path, 'training_states', '*.state') == [6, 50]
    assert _numbers(tmp_path, 'models', 'net_g_*.pth') == [6, 50]


def _trained(tmp_path: Path, **updates) -> tuple[Path, Path]:
    opt = tiny_train_options(tmp_path, train__total_iter=4, logger__save_checkpoint_freq=2, val__val_freq=100,
                             logger__use_tb_logger=False, **updates)
    options = write_yaml(tmp_path / 'tiny.yml', opt)
    assert train_main(['-opt', str(options)]) == 0
    return options, tmp_path / 'experiments' / 'tiny'


@pytest.mark.parametrize('plant, problem', [
    (_set('rng.0.torch', torch.zeros(3)), "'torch' is not a ByteTensor"),
    (_set('iter_in_epoch', 10 ** 9), "'iter_in_epoch' (1000000000) is larger than 'iter'"),
    (_set('iter', 10 ** 12), "'iter' (1000000000000) is beyond train.total_iter (4)"),
], ids=['rng', 'iter_in_epoch', 'iter'])
def test_auto_resume_skips_a_planted_state_and_explicit_resume_names_it(tmp_path, plant, problem, basicsr_log):
    options, experiment = _trained(tmp_path)
    planted = experiment / 'training_states' / '4.state'
    state = torch.load(planted, weights_only=True)
    plant(state)
    save_checkpoint(state, planted)
    assert load_resumable_state(experiment / 'training_states' / '2.state')['iter'] == 2
    assert train_main(['-opt', str(options), '--auto_resume']) == 0
    skipped = [m for m in basicsr_log.lines if 'Skipping' in m]
    assert skipped and problem in skipped[0] and str(planted) in skipped[0]
    assert any('Resuming training from epoch' in m and 'iteration 2.' in m for m in basicsr_log.lines)
    state = torch.load(planted, weights_only=True)  # rewritten by the resumed run
    plant(state)
    save_checkpoint(state, planted)
    assert train_main(['-opt', str(options), '--force_yml', f'path:resume_state={planted}']) == 1
    error = basicsr_log.lines[-1]  # the run's last word
    assert problem in error and str(planted) in error and '\n' not in error


def test_a_wrong_exp_avg_at_resume_is_one_line_not_a_segfault(tmp_path, basicsr_log):
    """Issue 26: a planted state whose Adam exp_avg has the wrong shape crashed the process (fused and unfused)."""
    options, experiment = _trained(tmp_path)
    planted = experiment / 'training_states' / '4.state'
    state = torch.load(planted, weights_only=True)
    state['optimizers'][0]['state'][0]['exp_avg'] = torch.zeros(5)
    save_checkpoint(state, planted)
    assert train_main(['-opt', str(options), '--force_yml', f'path:resume_state={planted}',
                       'train:total_iter=6']) == 1
    error = basicsr_log.lines[-1]
    assert str(planted) in error and "'exp_avg' of parameter 0: shape (5,)" in error and '\n' not in error


# ---------------------------------------------------------------------------------------------- the run lock
HOLD = """
import sys, time
from basicsr.utils.run_lock import acquire_run_lock
acquire_run_lock(sys.argv[1], 'training')
print('held', flush=True)
time.sleep(120)
"""


@pytest.fixture
def held_elsewhere():
    """Hold a folder's run lock in another process (killed at the end); returns its PID."""
    processes = []

    def hold(folder: Path) -> int:
        process = subprocess.Popen([sys.executable, '-c', HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
        processes.append(process)
        assert process.stdout.readline().strip() == 'held'
        return process.pid

    yield hold
    for process in processes:
        process.kill()
        process.wait()


def test_a_second_run_with_the_same_name_refuses_and_archives_nothing(tmp_path, held_elsewhere, basicsr_log):
    """Issue 26 (b): a second run archived the folder of a run that was still training."""
    options, experiment = _trained(tmp_path)
    before = sorted(p.name for p in experiment.rglob('*'))
    pid = held_elsewhere(experiment)
    assert train_main(['-opt', str(options)]) == 1
    error = basicsr_log.lines[-1]
    assert f'PID {pid} on {socket.gethostname()}' in error and str(experiment) in error and '\n' not in error
    assert sorted(p.name for p in experiment.rglob('*')) == before
    assert [p.name for p in (tmp_path / 'experiments').iterdir() if 'archived' in p.name] == []


def test_a_second_resume_refuses_and_leaves_the_live_runs_files(tmp_path, held_elsewhere, basicsr_log):
    options, experiment = _trained(tmp_path)
    in_flight = experiment / 'training_states' / '.6.state.abc.tmp'  # being written by the live run
    in_flight.write_bytes(b'half')
    pid = held_elsewhere(experiment)
    assert train_main(['-opt', str(options), '--auto_resume']) == 1
    error = basicsr_log.lines[-1]
    assert f'PID {pid}' in error and '\n' not in error
    assert in_flight.read_bytes() == b'half'
    with pytest.raises(RunLockError, match=f'PID {pid}'):
        remove_stale_temporaries(experiment / 'training_states')


def _test_options(tmp_path: Path) -> Path:
    """A test.py option file (name 'eval') for a tiny MSRResNet on one 16x16 pair."""
    hr, lr = make_pairs(tmp_path / 'set', count=1, size=(16, 16))
    weights = tmp_path / 'net.pth'
    network = {'type': 'MSRResNet', 'num_feat': 4, 'num_block': 1, 'upscale': 4}
    save_checkpoint({'params': MSRResNet(**{k: v for k, v in network.items() if k != 'type'}).state_dict()}, weights)
    opt = {'name': 'eval', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0, 'path': {'root': str(tmp_path),
                                                                                     'pretrain_network_g': str(weights)},
           'datasets': {'test_1': {'name': 'set', 'type': 'PairedImageDataset', 'dataroot_gt': str(hr),
                                   'dataroot_lq': str(lr), 'io_backend': {'type': 'disk'}}},
           'network_g': network, 'val': {'save_img': False}}
    return write_yaml(tmp_path / 'test.yml', opt)


def test_a_second_test_run_refuses_and_archives_nothing(tmp_path, held_elsewhere):
    options = _test_options(tmp_path)
    results = tmp_path / 'results' / 'eval'
    results.mkdir(parents=True)
    (results / 'earlier.txt').write_text('a running test writes here')
    pid = held_elsewhere(results)
    with pytest.raises(RunLockError, match=f'PID {pid}'):
        evaluate(argv=['-opt', str(options)])
    assert [p.name for p in results.parent.iterdir() if not p.name.startswith('.')] == ['eval']
    assert [p.name for p in results.iterdir()] == ['earlier.txt']


def test_a_test_run_holds_its_results_folder_while_it_runs(tmp_path, monkeypatch):
    from basicsr import test as test_entry
    options = _test_options(tmp_path)
    seen = []
    real_build = test_entry.build_model
    monkeypatch.setattr(test_entry, 'build_model', lambda opt: seen.append(
        json.loads(lock_path(tmp_path / 'results' / 'eval').read_text())['pid']) or real_build(opt))
    evaluate(argv=['-opt', str(options)])
    assert seen == [os.getpid()] and not lock_path(tmp_path / 'results' / 'eval').exists()


def test_archiving_never_moves_a_locked_folder(tmp_path, held_elsewhere):
    folder = tmp_path / 'experiments' / 'run'
    folder.mkdir(parents=True)
    pid = held_elsewhere(folder)
    with pytest.raises(RunLockError, match=f'PID {pid} .*refused to move it aside'):
        mkdir_and_rename(folder)
    assert [p.name for p in folder.parent.iterdir() if not p.name.startswith('.')] == ['run']


def test_a_stale_lock_is_taken_over_and_a_finished_run_leaves_none(tmp_path):
    folder = tmp_path / 'run'
    killed = subprocess.Popen([sys.executable, '-c', HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert killed.stdout.readline().strip() == 'held'
    killed.kill()  # SIGKILL: its record stays, its lock goes
    killed.wait()
    assert json.loads(lock_path(folder).read_text())['pid'] == killed.pid
    assert lock_owner(folder) is None
    with acquire_run_lock(folder, 'training') as lock:
        assert json.loads(lock_path(folder).read_text())['pid'] == os.getpid() and lock.folder == folder.resolve()
    assert not lock_path(folder).exists()


def test_a_lock_recorded_by_another_host_is_not_taken_over(tmp_path):
    folder = tmp_path / 'run'
    lock_path(folder).write_text(json.dumps({'pid': 1, 'host': 'elsewhere', 'started': 'today', 'command': 'x'}))
    with pytest.raises(RunLockError) as info:
        acquire_run_lock(folder)
    assert 'PID 1 on elsewhere' in str(info.value) and f'delete {lock_path(folder)}' in str(info.value)


def test_a_dead_pid_is_stale_where_the_file_system_cannot_lock(tmp_path, monkeypatch):
    from basicsr.utils import run_lock
    folder = tmp_path / 'run'
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    record = {'pid': dead.pid, 'host': socket.gethostname(), 'started': 'today', 'command': 'x'}
    lock_path(folder).write_text(json.dumps(record))

    def cannot_lock(fd, flags):
        raise OSError(37, 'No locks available')

    monkeypatch.setattr(run_lock.fcntl, 'lockf', cannot_lock)
    acquire_run_lock(folder).release()  # the dead PID's record is stale
    lock_path(folder).write_text(json.dumps({**record, 'pid': os.getppid()}))  # a live one is not
    with pytest.raises(RunLockError, match=f'PID {os.getppid()}'):
        acquire_run_lock(folder)


# ---------------------------------------------------------------------------------------------- downloads
class Hostile(BaseHTTPRequestHandler):
    """``/trickle``: 1 byte per 50 ms of an announced 400; ``/unframed``: a body ended only by closing the
    connection; ``/chunked``: a properly chunked body."""
    protocol_version = 'HTTP/1.1'
    BODY = bytes(range(200)) * 2

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == '/trickle':
            self._head(('Content-Length', str(len(self.BODY))))
            for byte in self.BODY:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
        elif self.path == '/unframed':
            self._head(('Connection', 'close'))
            self.wfile.write(self.BODY[:150])  # "half" a file: the server stops here
            self.close_connection = True
        elif self.path == '/chunked':
            self._head(('Transfer-Encoding', 'chunked'))
            for start in range(0, len(self.BODY), 100):
                piece = self.BODY[start:start + 100]
                self.wfile.write(b'%x\r\n%s\r\n' % (len(piece), piece))
            self.wfile.write(b'0\r\n\r\n')

    def _head(self, *headers: tuple[str, str]) -> None:
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up early are what these tests do


@pytest.fixture
def hostile_server():
    httpd = QuietServer(('127.0.0.1', 0), Hostile)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


def test_a_trickling_server_hits_the_total_deadline_and_leaves_nothing(hostile_server, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError, match='deadline of 0.5 s') as info:
        download(f'{hostile_server}/trickle', tmp_path / 'w.pth', progress=False, timeout=5, deadline=0.5)
    assert time.monotonic() - start < 2 and '\n' not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_an_unframed_body_without_a_hash_is_refused(hostile_server, tmp_path):
    with pytest.raises(DownloadError, match='neither the length of the file nor chunked framing'):
        download(f'{hostile_server}/unframed', tmp_path / 'w.pth', progress=False)
    assert list(tmp_path.iterdir()) == []
    digest = hashlib.sha256(Hostile.BODY[:150]).hexdigest()  # with a hash the file is verified: kept
    assert download(f'{hostile_server}/unframed', tmp_path / 'w.pth', digest, progress=False).read_bytes() == \
        Hostile.BODY[:150]


def test_a_chunked_body_is_kept(hostile_server, tmp_path):
    assert download(f'{hostile_server}/chunked', tmp_path / 'w.pth', progress=False).read_bytes() == Hostile.BODY


def test_abandoned_temporaries_of_a_killed_download_are_removed(hostile_server, tmp_path):
    old, young = tmp_path / '.w.pth.abc.tmp', tmp_path / '.w.pth.def.tmp'
    old.write_bytes(b'x')
    young.write_bytes(b'y')
    os.utime(old, (time.time() - 100, time.time() - 100))
    download(f'{hostile_server}/chunked', tmp_path / 'w.pth', progress=False, deadline=50)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.w.pth.def.tmp', 'w.pth']  # a live one's is kept


@pytest.mark.parametrize('kwargs, problem', [
    ({'file_name': '../../x.pth'}, "file name '../../x.pth' must be a plain name"),
    ({'file_name': '..'}, "file name '..' must be a plain name"),
    ({'model_dir': '../../outside'}, "model_dir '../../outside' leads outside"),
], ids=['file_name', 'dot-dot', 'model_dir'])
def test_load_file_from_url_never_writes_outside(hostile_server, tmp_path, monkeypatch, kwargs, problem):
    repo = tmp_path / 'a' / 'b' / 'repo'
    repo.mkdir(parents=True)
    monkeypatch.setattr(download_util, 'REPO_ROOT', repo)
    kwargs.setdefault('model_dir', str(repo / 'weights'))
    with pytest.raises(DownloadError) as info:
        load_file_from_url(f'{hostile_server}/chunked', progress=False, **kwargs)
    assert problem in str(info.value) and '\n' not in str(info.value)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob('*')) == ['a', 'a/b', 'a/b/repo']


# ------------------------------------------------------------------------------ code in the working folder
def test_python_m_basicsr_train_does_not_import_from_the_working_folder(tmp_path):
    """Issue 26: a tensorboard.py in the working folder was imported and run by ``python -m basicsr.train``. Planted
    beside it, modules the entry point imports at once (numpy, yaml, cv2) show that nothing comes from there."""
    for module in ('tensorboard', 'numpy', 'yaml', 'cv2'):
        (tmp_path / f'{module}.py').write_text(f"open({str(tmp_path / ('RAN_' + module))!r}, 'w')\n"
                                               f"raise SystemExit('planted {module} ran')\n")
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONSAFEPATH')}
    done = subprocess.run([sys.executable, '-m', 'basicsr.train', '-h'], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and '-opt' in done.stdout, done.stderr[-2000:]
    assert not list(tmp_path.glob('RAN_*'))
    check = subprocess.run([sys.executable, '-c', 'import sys, basicsr; print(sys.path[0] == "")'], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=300)
    assert check.stdout.strip() == 'True'  # a program that imports basicsr keeps its own sys.path


# ------------------------------------------------------------------------------------------- folder modes
@pytest.mark.parametrize('umask, mode', [(0o022, 0o755), (0o027, 0o750)])
def test_folders_written_at_once_get_the_umask_mode(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        with folder_written_atomically(tmp_path / 'out') as tmp:
            (tmp / 'f.txt').write_text('x')
    finally:
        os.umask(previous)
    assert (tmp_path / 'out').stat().st_mode & 0o777 == mode
