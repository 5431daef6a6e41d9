"""The holes adversarial testing found (issue 19): truncated LMDB files, planted or incomplete training states, a
full disk while saving, decompression bombs, and errors raised in dataloader workers."""
import errno
import gc
import os
import random
import resource
import struct
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from basicsr.data import build_dataloader, build_dataset
from basicsr.data.sampler import EnlargedSampler
from basicsr.utils import checkpoint
from basicsr.utils.checkpoint import (check_checkpoint_complete, last_complete_checkpoint_hint, load_resumable_state,
                                      load_training_state, network_files, remove_stale_temporaries,
                                      resumable_states, save_checkpoint, validate_training_state)
from basicsr.utils.errors import CheckpointError, DataError, OptionError
from basicsr.utils.image_header import MAX_PIXELS_ENV, image_size, max_image_pixels, set_max_image_pixels
from basicsr.utils.img_util import imfrombytes, imread
from basicsr.train import train_pipeline
from conftest import make_pairs, simulate_full_disk, tiny_train_options, write_yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'scripts'))

import create_lmdb  # noqa: E402

BOMB_SIDE = 30000


def _dataset_opt(gt: Path, lq: Path | None, phase: str = 'train', lmdb: bool = False, workers: int = 0,
                 dataset_type: str = 'PairedImageDataset') -> dict:
    opt = {'name': 'hardening', 'type': dataset_type, 'phase': phase, 'scale': 4,
           'io_backend': {'type': 'lmdb' if lmdb else 'disk'}, 'num_worker_per_gpu': workers,
           'batch_size_per_gpu': 1, 'pin_memory': False, 'persistent_workers': False}
    if dataset_type == 'PairedImageDataset':
        opt['dataroot_gt'] = str(gt)
        if phase == 'train':
            opt['gt_size'] = 32
    if lq is not None:
        opt['dataroot_lq'] = str(lq)
    return opt


@pytest.fixture
def quick_worker_shutdown(monkeypatch):
    """PyTorch waits 5 s for a worker that raised to exit before it stops it; the tests need not wait that long."""
    monkeypatch.setattr(torch.utils.data._utils, 'MP_STATUS_CHECK_INTERVAL', 0.2)
    yield
    gc.collect()  # the failed loader, held by the exception's traceback, shuts its worker down now


def _first_batch(opt: dict) -> None:
    dataset = build_dataset(opt)
    sampler = EnlargedSampler(len(dataset), shuffle=False) if opt['phase'] == 'train' else None
    next(iter(build_dataloader(dataset, opt, sampler)))


# ----------------------------------------------------------------------------------------- 1: truncated LMDB
@pytest.fixture
def truncated_lmdb(tmp_path: Path) -> tuple[Path, Path]:
    """An LMDB pair made by scripts/create_lmdb.py whose GT data.mdb lost its second half (as a copy cut short)."""
    hr, lr = make_pairs(tmp_path / 'src', count=4, size=(96, 96))
    gt, lq = tmp_path / 'gt.lmdb', tmp_path / 'lq.lmdb'
    create_lmdb.main(['--input', str(hr), '--output', str(gt)])
    create_lmdb.main(['--input', str(lr), '--output', str(lq)])
    data = gt / 'data.mdb'
    with open(data, 'r+b') as file:
        file.truncate(data.stat().st_size // 2)
    return gt, lq


def test_a_healthy_lmdb_passes_the_size_check(tmp_path):
    hr, lr = make_pairs(tmp_path / 'src', count=2, size=(64, 64))
    create_lmdb.main(['--input', str(hr), '--output', str(tmp_path / 'gt.lmdb')])
    create_lmdb.main(['--input', str(lr), '--output', str(tmp_path / 'lq.lmdb')])
    _first_batch(_dataset_opt(tmp_path / 'gt.lmdb', tmp_path / 'lq.lmdb', lmdb=True))


def test_a_truncated_lmdb_is_a_data_error_in_the_main_process(truncated_lmdb):
    gt, lq = truncated_lmdb
    with pytest.raises(DataError, match='truncated LMDB data file') as info:  # checked when the dataset is made
        build_dataset(_dataset_opt(gt, lq, lmdb=True))
    assert str(gt / 'data.mdb') in str(info.value)


def test_a_truncated_lmdb_is_one_line_from_a_worker_not_a_sigbus(truncated_lmdb, quick_worker_shutdown):
    gt, lq = truncated_lmdb
    with pytest.raises(DataError) as info:
        _first_batch(_dataset_opt(gt, lq, lmdb=True, workers=1))
    message = str(info.value)
    assert '\n' not in message and message.startswith(f'{gt / "data.mdb"}: truncated LMDB data file')


# ----------------------------------------------------------------------------------------- 8: worker errors
@pytest.mark.parametrize('phase', ['train', 'val'])
def test_a_worker_error_is_the_same_one_line_as_in_the_main_process(tmp_path, phase, quick_worker_shutdown):
    hr, lr = make_pairs(tmp_path, count=2, size=(48, 48))
    (hr / 'img00.png').write_bytes(b'\x89PNG\r\n\x1a\n this file was cut short')
    opt = _dataset_opt(hr, lr, phase=phase)
    with pytest.raises(DataError) as in_main:
        _first_batch(opt)
    if phase == 'train':  # validation loaders always read in the main process
        with pytest.raises(DataError) as in_worker:
            _first_batch({**opt, 'num_worker_per_gpu': 1})
        assert str(in_worker.value) == str(in_main.value)
    assert '\n' not in str(in_main.value) and str(hr / 'img00.png') in str(in_main.value)


# ----------------------------------------------------------------------------------------- 6: decompression bombs
@pytest.fixture(scope='module')
def bomb_png(tmp_path_factory) -> Path:
    """A real 30000x30000 grey PNG (all black): 4 MB on disk, 900 MB decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

    compressor, rows = zlib.compressobj(1), b'\x00' * (BOMB_SIDE + 1) * 500  # filter byte + pixels, 500 rows
    idat = b''.join(compressor.compress(rows) for _ in range(BOMB_SIDE // 500)) + compressor.flush()
    header = struct.pack('>IIBBBBB', BOMB_SIDE, BOMB_SIDE, 8, 0, 0, 0, 0)
    path = tmp_path_factory.mktemp('bomb') / 'bomb.png'
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', idat) + chunk(b'IEND', b''))
    return path


def test_a_decompression_bomb_is_refused_from_its_header(bomb_png):
    assert bomb_png.stat().st_size < 5 * 2**20
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        imread(bomb_png)
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100 * 2**10  # no 900 MB decode
    message = str(info.value)
    assert message.startswith(f'{bomb_png}: the header says 30000x30000 pixels (900.0 megapixels), above the '
                               'limit of 100 megapixels')
    assert f'{MAX_PIXELS_ENV} to at least 900000000' in message


@pytest.mark.parametrize('dataset_type, phase, with_lq', [
    ('PairedImageDataset', 'train', True),  # training
    ('PairedImageDataset', 'train', False),  # LQ made on the fly
    ('PairedImageDataset', 'val', True),  # validation / test.py with ground truth (tiled or not: read first)
    ('SingleImageDataset', 'test', True),  # test.py without ground truth
])
def test_every_dataset_refuses_a_bomb(tmp_path, bomb_png, dataset_type, phase, with_lq):
    hr, lr = make_pairs(tmp_path, count=1, size=(48, 48))
    target = lr if dataset_type == 'SingleImageDataset' else hr
    (target / 'img00.png').write_bytes(bomb_png.read_bytes())
    opt = _dataset_opt(hr, lr if with_lq else None, phase=phase, dataset_type=dataset_type)
    with pytest.raises(DataError, match='30000x30000 pixels'):
        _first_batch(opt)


def test_the_pixel_limit_is_set_by_the_environment(monkeypatch):
    img = np.zeros((40, 50, 3), np.uint8)
    encoded = cv2.imencode('.png', img)[1].tobytes()
    monkeypatch.setenv(MAX_PIXELS_ENV, '1999')
    with pytest.raises(DataError, match='above the limit of 0.001999 megapixels'):
        imfrombytes(encoded, source='small.png')
    monkeypatch.setenv(MAX_PIXELS_ENV, '2000')
    assert imfrombytes(encoded).shape == (40, 50, 3)
    set_max_image_pixels(0)  # no limit
    assert os.environ[MAX_PIXELS_ENV] == '0' and max_image_pixels() == 0
    monkeypatch.setenv(MAX_PIXELS_ENV, 'lots')
    with pytest.raises(OptionError, match=f"{MAX_PIXELS_ENV}: expected a pixel count .* got 'lots'"):
        imfrombytes(encoded)
    monkeypatch.delenv(MAX_PIXELS_ENV)
    assert max_image_pixels() == 100_000_000
    with pytest.raises(OptionError):
        set_max_image_pixels(-1)


@pytest.mark.parametrize('ext, params', [
    ('.png', []), ('.jpg', []), ('.jpg', [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]), ('.bmp', []), ('.tif', []),
    ('.webp', []), ('.webp', [cv2.IMWRITE_WEBP_QUALITY, 101]), ('.ppm', []), ('.pgm', []),
])
def test_the_header_gives_the_size_opencv_decodes(ext, params):
    img = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    encoded = cv2.imencode(ext, img[..., 0] if ext == '.pgm' else img, params)[1].tobytes()
    assert image_size(encoded) == (53, 37)
    assert imfrombytes(encoded).shape == (37, 53, 3)


def _tiff_big_endian(width: int, height: int) -> bytes:
    entries = struct.pack('>HHII', 256, 4, 1, width) + struct.pack('>HHIHH', 257, 3, 1, height, 0)
    return b'MM\x00\x2a' + struct.pack('>I', 8) + struct.pack('>H', 2) + entries + b'\x00' * 4


@pytest.mark.parametrize('name, data, size', [
    ('tiff, big-endian, LONG and SHORT', _tiff_big_endian(70000, 60000), (70000, 60000)),
    ('jpeg SOF2 after an APP0 segment', b'\xff\xd8\xff\xe0\x00\x04ab\xff\xc2\x00\x0b\x08\xea\x60\xea\x60\x03',
     (60000, 60000)),
    ('bmp, top-down', b'BM' + b'\x00' * 12 + struct.pack('<Iii', 40, 40000, -40000), (40000, 40000)),
    ('webp VP8X', b'RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00' + (20000 - 1).to_bytes(3, 'little')
     + (20000 - 1).to_bytes(3, 'little'), (20000, 20000)),
    ('ppm with a comment', b'P6\n# made by hand\n30000 30000\n255\n', (30000, 30000)),
])
def test_crafted_headers_of_huge_images_are_read_and_refused(name, data, size):
    assert image_size(data) == size
    with pytest.raises(DataError, match=f'{size[0]}x{size[1]} pixels'):
        imfrombytes(data, source=name)


@pytest.mark.parametrize('data', [b'GIF89a\x01\x00\x01\x00', b'\x89PNG\r\n\x1a\n\x00\x00', b'\xff\xd8\xff\xd9',
                                  b'P6\nnot numbers', b'RIFF\x00\x00\x00\x00WEBPVP8Z'])
def test_unknown_or_cut_headers_are_not_readable_images(data):
    assert image_size(data) is None
    with pytest.raises(DataError, match='x.img: not a readable image'):
        imfrombytes(data, source='x.img')


# ----------------------------------------------------------------------------------------- 3: training states
def _training_state(iteration: int = 4, **changes) -> dict:
    net = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(net.parameters())
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, [10])
    state = {'epoch': 0, 'iter': iteration, 'optimizers': [optimizer.state_dict()],
             'schedulers': [schedule.state_dict()], 'grad_scalers': [],
             'rng': [{'python': random.getstate(), 'torch': torch.get_rng_state(),
                      'numpy': ('MT19937', torch.from_numpy(np.random.get_state()[1].astype(np.int64)), 0, 0, 0.0)}],
             'best_metric_results': {}, 'iter_in_epoch': iteration}
    state.update(changes)
    return state


def _experiment(tmp_path: Path, iteration: int, state: object, labels: tuple[str, ...] = ('g',)) -> Path:
    """``tmp_path/training_states/<iter>.state`` holding ``state``, with ``models/net_<label>_<iter>.pth``."""
    for label in labels:
        save_checkpoint({'params': {'w': torch.zeros(1)}}, tmp_path / 'models' / f'net_{label}_{iteration}.pth')
    save_checkpoint(state, tmp_path / 'training_states' / f'{iteration}.state')
    return tmp_path / 'training_states' / f'{iteration}.state'


def test_a_real_training_state_is_valid_and_complete(tmp_path):
    path = _experiment(tmp_path, 4, _training_state())
    state = load_resumable_state(path)
    assert state['iter'] == 4 and isinstance(state['optimizers'][0], dict)


def test_the_states_a_training_writes_pass_the_validation(tmp_path):
    """The validation must accept what the trainer writes, or auto-resume would skip every checkpoint."""
    opt = tiny_train_options(tmp_path, train__total_iter=2, logger__save_checkpoint_freq=1, logger__use_tb_logger=False,
                             val__val_freq=100)
    train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'tiny.yml', opt))])
    experiment = tmp_path / 'experiments' / 'tiny'
    states = resumable_states(experiment / 'training_states', experiment / 'models')
    assert [p.name for p in states] == ['2.state', '1.state']
    for path in states:
        assert load_resumable_state(path, labels=['g'])['iter'] == int(path.stem)


@pytest.mark.parametrize('planted, problem', [
    ({}, 'missing iter, epoch, optimizers, schedulers'),
    (torch.zeros(3), 'expected a dict, found Tensor'),
    ([1, 2], 'expected a dict, found list'),
    ({'iter': 4, 'epoch': 0}, 'missing optimizers, schedulers'),
    (_training_state(iter='4'), "'iter' (the iteration) is a str, expected int"),
    (_training_state(epoch=-1), "'epoch' (the epoch) is negative"),
    (_training_state(optimizers=[{'lr': 1}]), "'optimizers[0]' is not a state dict with state, param_groups"),
    (_training_state(rng=[{}]), "'rng[0]' is not a state dict with python, numpy, torch"),
    (_training_state(networks=['g', 3]), "'networks' must list network labels"),
    (_training_state(iteration=3), 'it says iteration 3, its name says 4'),
])
def test_a_planted_state_is_a_checkpoint_error_naming_the_file(tmp_path, planted, problem):
    path = _experiment(tmp_path, 4, planted)
    with pytest.raises(CheckpointError) as info:
        load_training_state(path)
    assert str(info.value).startswith(f'{path}: not a training state: {problem}')


def test_validation_needs_no_file(tmp_path):
    assert validate_training_state(_training_state(networks=['g', 'd'])) is not None
    with pytest.raises(CheckpointError, match='^<training state>: not a training state'):
        validate_training_state({})


def test_a_state_whose_network_files_are_missing_is_incomplete(tmp_path):
    path = _experiment(tmp_path, 4, _training_state(), labels=('g',))
    with pytest.raises(CheckpointError) as info:
        load_resumable_state(path, labels=['g', 'd'])  # the options have a discriminator: its file is missing
    assert str(info.value) == (f'{path}: incomplete checkpoint: network file(s) '
                               f'{tmp_path.resolve() / "models" / "net_d_4.pth"} not found.')
    load_resumable_state(path, labels=['g'])


def test_the_networks_a_state_lists_take_precedence(tmp_path):
    path = _experiment(tmp_path, 6, _training_state(6, networks=['g', 'feat']), labels=('g', 'feat'))
    models = tmp_path.resolve() / 'models'
    assert list(network_files(path, load_training_state(path), labels=['g', 'd']).values()) == [models / 'net_g_6.pth',
                                                                                  models / 'net_feat_6.pth']
    check_checkpoint_complete(path, load_training_state(path), labels=['g', 'd'])
    (models / 'net_feat_6.pth').unlink()
    with pytest.raises(CheckpointError, match='net_feat_6.pth not found'):
        check_checkpoint_complete(path, load_training_state(path), models_dir=tmp_path / 'models')


def test_resumable_states_and_stale_temporaries_still_work(tmp_path):
    _experiment(tmp_path, 2, _training_state(2))
    _experiment(tmp_path, 4, _training_state(4))
    (tmp_path / 'training_states' / '.6.state.abc.tmp').write_bytes(b'half')
    assert [p.name for p in resumable_states(tmp_path / 'training_states', tmp_path / 'models')] == ['4.state',
                                                                                                    '2.state']
    assert [p.name for p in remove_stale_temporaries(tmp_path / 'training_states')] == ['.6.state.abc.tmp']


# ----------------------------------------------------------------------------------------- 4: a full disk
def _disk_full_on_write(monkeypatch) -> None:
    simulate_full_disk(monkeypatch)


def _disk_full_on_fsync(monkeypatch) -> None:
    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint.os, 'fsync', fsync)


@pytest.mark.parametrize('fail', [_disk_full_on_write, _disk_full_on_fsync])
def test_a_full_disk_is_one_checkpoint_error_and_keeps_the_previous_file(tmp_path, monkeypatch, fail):
    states, models = tmp_path / 'training_states', tmp_path / 'models'
    _experiment(tmp_path, 2, _training_state(2))
    save_checkpoint({'params': {'w': torch.ones(1)}}, models / 'net_g_4.pth')  # overwritten below
    fail(monkeypatch)
    with pytest.raises(CheckpointError) as info:
        save_checkpoint({'params': {'w': torch.full((1000,), 2.0)}}, models / 'net_g_4.pth')
    message = str(info.value)
    assert message == f'{models / "net_g_4.pth"}: cannot write the file (No space left on device); the previous ' \
                      'files are intact.'
    monkeypatch.undo()
    assert torch.equal(checkpoint.load_checkpoint(models / 'net_g_4.pth')['params']['w'], torch.ones(1))
    assert sorted(p.name for p in models.iterdir()) == ['net_g_2.pth', 'net_g_4.pth']  # no temporary file left
    assert last_complete_checkpoint_hint(states, models) == (
        f'The last complete checkpoint is iteration 2 ({states / "2.state"}); resume from it with --auto_resume '
        'once the cause is fixed.')


def test_other_errors_while_saving_are_not_disguised(tmp_path):
    with pytest.raises(TypeError):
        checkpoint.atomic_write(tmp_path / 'x.pth', lambda file: file.write('text, not bytes'))
    assert list(tmp_path.iterdir()) == []
    assert last_complete_checkpoint_hint(tmp_path / 'none', tmp_path / 'none') == 'There is no complete checkpoint yet.'
