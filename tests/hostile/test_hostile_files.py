"""Hostile input (issue 26): small files that would allocate gigabytes are refused from their headers.

NIQE models and FID statistics (.npz), checkpoints (.pth) and images whose header two parsers read differently.
"""
import io
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from basicsr.metrics.fid import load_reference_stats
from basicsr.metrics.niqe import load_niqe_model
from basicsr.utils import checkpoint
from basicsr.utils.errors import CheckpointError, DataError
from basicsr.utils.file_inspect import checkpoint_budget
from basicsr.utils.image_header import image_size

ROOT = Path(__file__).resolve().parents[2]


def _npy_claiming(shape: tuple[int, ...], payload: bytes = b'') -> bytes:
    """An .npy header declaring ``shape`` of float64, followed by ``payload`` only."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {'descr': '<f8', 'fortran_order': False, 'shape': shape})
    return out.getvalue() + payload


def _npz(path: Path, records: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in records.items():
            archive.writestr(f'{name}.npy', data)
    return path


def _array(a: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, a)
    return out.getvalue()


def _peak_bytes(call) -> tuple[Exception, int]:
    """The exception ``call`` raises and the peak of Python/numpy allocations meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as info:
            call()
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_niqe_model_whose_header_claims_gigabytes_is_refused_unread(tmp_path):
    path = _npz(tmp_path / 'niqe.npz', {'mu_pris_param': _array(np.zeros((1, 36))),
                                        'cov_pris_param': _npy_claiming((30000, 30000)),  # 7.2 GB declared
                                        'gaussian_window': _array(np.ones((7, 7)))})
    err, peak = _peak_bytes(lambda: load_niqe_model(str(path)))
    assert str(path) in str(err) and 'cov_pris_param' in str(err) and '\n' not in str(err)
    assert peak < 16 << 20


def test_niqe_model_with_a_deflated_huge_window_is_refused_unread(tmp_path):
    big = _array(np.zeros((2897, 2897)))  # 67 MB of zeros, deflated to a few hundred KB
    path = _npz(tmp_path / 'niqe.npz', {'mu_pris_param': _array(np.zeros(36)),
                                        'cov_pris_param': _array(np.eye(36)), 'gaussian_window': big})
    del big
    assert path.stat().st_size < 1 << 20
    err, peak = _peak_bytes(lambda: load_niqe_model(str(path)))
    assert 'gaussian_window' in str(err) and '(2897, 2897)' in str(err)
    assert peak < 16 << 20


def test_fid_statistics_claiming_a_huge_sigma_are_refused_unread(tmp_path):
    path = _npz(tmp_path / 'stats.npz', {'mu': _array(np.zeros(2048)), 'sigma': _npy_claiming((2048, 2048 * 200))})
    err, peak = _peak_bytes(lambda: load_reference_stats(path))
    assert str(path) in str(err) and 'sigma' in str(err) and '\n' not in str(err)
    assert peak < 16 << 20


def test_npz_of_python_objects_is_refused(tmp_path):
    out = io.BytesIO()
    np.save(out, np.array([{'a': 1}], dtype=object), allow_pickle=True)
    path = _npz(tmp_path / 'stats.npz', {'mu': out.getvalue(), 'sigma': _array(np.zeros((2048, 2048)))})
    with pytest.raises(DataError, match='Python objects'):
        load_reference_stats(path)


def _deflated_pth(path: Path, state: dict) -> Path:
    """``state`` saved by torch, then re-packed with every record deflated (torch.load reads that too)."""
    raw = io.BytesIO()
    torch.save(state, raw)
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in source.infolist():
            out.writestr(info.filename, source.read(info))
    return path


@pytest.fixture
def no_torch_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('torch.load ran on a file that should have been refused from its zip directory')
    monkeypatch.setattr(checkpoint.torch, 'load', refuse)


def test_deflated_pth_bomb_is_refused_before_torch_load(tmp_path, no_torch_load):
    path = _deflated_pth(tmp_path / 'net_g.pth', {'params': {'weight': torch.zeros(17_000_000)}})  # 68 MB inflated
    assert path.stat().st_size < 1 << 20
    with pytest.raises(CheckpointError, match='compressed') as info:
        checkpoint.load_checkpoint(path)
    assert str(path) in str(info.value) and '\n' not in str(info.value)


def test_pth_larger_than_the_network_is_refused_before_torch_load(tmp_path, no_torch_load):
    net = torch.nn.Conv2d(3, 4, 3)
    path = tmp_path / 'net_g.pth'
    torch.save({'params': {'weight': torch.zeros(4, 3, 3, 3), 'extra': torch.zeros(1 << 20)}}, path)  # 4 MiB
    with pytest.raises(CheckpointError, match='more than') as info:
        checkpoint.load_checkpoint(path, max_bytes=checkpoint_budget(net))
    assert str(path) in str(info.value)


def test_pth_that_fits_its_network_loads(tmp_path):
    net = torch.nn.Conv2d(3, 4, 3)
    path = _deflated_pth(tmp_path / 'net_g.pth', {'params': net.state_dict(), 'params_ema': net.state_dict()})
    loaded = checkpoint.load_checkpoint(path, max_bytes=checkpoint_budget(net))
    assert torch.equal(loaded['params']['weight'], net.weight)


def _tiff_with_two_sizes(declared: int, real: int = 16) -> bytes:
    """A grey TIFF whose ImageWidth/ImageLength tags each appear twice: ``declared`` first, then ``real``."""
    entries = [(256, declared), (256, real), (257, declared), (257, real), (258, 8), (259, 1), (262, 1), (273, 0),
               (277, 1), (278, real), (279, real * real)]
    data_at = 8 + 2 + 12 * len(entries) + 4
    out = bytearray(b'II*\x00' + struct.pack('<IH', 8, len(entries)))
    for tag, value in entries:
        out += struct.pack('<HHII', tag, 4, 1, data_at if tag == 273 else value)
    return bytes(out + b'\0\0\0\0' + bytes(real * real))


def test_tiff_with_duplicate_size_tags_is_refused_by_the_decoder(tmp_path):
    path = tmp_path / 'bomb.tiff'
    path.write_bytes(_tiff_with_two_sizes(2000))
    assert image_size(path.read_bytes()) == (16, 16)  # what a header parser may read; libtiff reads 2000x2000
    script = ('from basicsr.utils.errors import DataError\nfrom basicsr.utils.img_util import imread\n'
              f'try:\n    imread({str(path)!r})\nexcept DataError as err:\n    print("REFUSED", err)\n')
    env = {**os.environ, 'BASICSR_MAX_IMAGE_PIXELS': '1000000'}
    env.pop('OPENCV_IO_MAX_IMAGE_PIXELS', None)
    result = subprocess.run([sys.executable, '-c', script], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.startswith('REFUSED') and str(path) in result.stdout, result.stdout + result.stderr
    assert 'decoder accepts (1 megapixels' in result.stdout and result.stdout.count('\n') == 1


def test_pretrain_network_g_larger_than_the_network_is_refused_before_torch_load(tmp_path, no_torch_load):
    from basicsr.models.checkpointing import load_weights
    net = torch.nn.Conv2d(3, 4, 3)
    path = _deflated_pth(tmp_path / 'pretrained.pth', {'params': {'weight': torch.zeros(4, 3, 3, 3),
                                                                  'bias': torch.zeros(1 << 20)}})  # 4 MiB inflated
    with pytest.raises(CheckpointError, match=r'more than the .* MiB the network it is loaded into can use'):
        load_weights(net, str(path))
