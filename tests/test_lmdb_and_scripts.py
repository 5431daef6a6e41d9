"""LMDB creation and the data-preparation scripts, on a few tiny synthetic images."""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'scripts'))

import create_lmdb  # noqa: E402
import extract_subimages  # noqa: E402
from basicsr.data.file_client import LmdbBackend  # noqa: E402
from basicsr.utils.errors import DataError  # noqa: E402
from basicsr.utils.img_util import imfrombytes, imread  # noqa: E402
from basicsr.utils.lmdb_util import make_lmdb_from_imgs, read_lmdb_meta_info  # noqa: E402
from basicsr.data.subimages import crop_boxes, crop_positions  # noqa: E402


def _random(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _write(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A colour PNG, a grey PNG, an RGBA PNG and a JPEG in a sub-folder."""
    src = tmp_path / 'src'
    _write(src / 'a.png', _random((7, 9, 3), 0))
    _write(src / 'grey.png', _random((5, 6), 1))
    _write(src / 'rgba.png', _random((4, 5, 4), 2))
    _write(src / 'sub' / 'c.jpg', _random((6, 4, 3), 3))
    return src


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith('.'))


# ----------------------------------------------------------------------------------------------- create_lmdb
@pytest.mark.parametrize('n_thread', [1, 2])
def test_create_lmdb_round_trip(tmp_path: Path, image_folder: Path, n_thread: int) -> None:
    out = tmp_path / 'db.lmdb'
    create_lmdb.main(['--input', str(image_folder), '--output', str(out), '--n-thread', str(n_thread),
                      '--compress-level', '4'])
    assert sorted(p.name for p in out.iterdir()) == ['data.mdb', 'lock.mdb', 'meta_info.txt']
    assert (out / 'meta_info.txt').read_text().splitlines() == [
        'a.png (7,9,3) 4', 'grey.png (5,6,1) 4', 'rgba.png (4,5,4) 4', 'sub/c.png (6,4,3) 4']
    meta = read_lmdb_meta_info(out)
    assert meta[1] == ('grey', (5, 6, 1), 4)
    backend = LmdbBackend(str(out))
    sources = {'a': 'a.png', 'grey': 'grey.png', 'rgba': 'rgba.png', 'sub/c': 'sub/c.jpg'}
    for key, shape, _ in meta:
        stored = imfrombytes(backend.get(key), flag='unchanged')
        expected = imread(image_folder / sources[key], flag='unchanged')
        assert stored.dtype == np.uint8 and stored.shape == expected.shape
        assert np.array_equal(stored, expected), key
        assert shape == (*expected.shape[:2], 1 if expected.ndim == 2 else expected.shape[2])
    assert _leftovers(tmp_path) == []


def test_create_lmdb_several_pairs(tmp_path: Path) -> None:
    _write(tmp_path / 'A' / 'x.png', _random((3, 3, 3), 4))
    _write(tmp_path / 'B' / 'y.png', _random((2, 2, 3), 5))
    outs = [tmp_path / 'A.lmdb', tmp_path / 'B.lmdb']
    create_lmdb.main(['--input', str(tmp_path / 'A'), str(tmp_path / 'B'), '--output', *map(str, outs),
                      '--n-thread', '1'])
    assert [read_lmdb_meta_info(o)[0][0] for o in outs] == ['x', 'y']
    with pytest.raises(SystemExit, match='one output per input'):
        create_lmdb.main(['--input', str(tmp_path / 'A'), str(tmp_path / 'B'), '--output', str(outs[0])])


def test_create_lmdb_overwrite(tmp_path: Path) -> None:
    src, out = tmp_path / 'src', tmp_path / 'db.lmdb'
    _write(src / 'x.png', _random((3, 3, 3), 6))
    create_lmdb.main(['--input', str(src), '--output', str(out), '--n-thread', '1'])
    with pytest.raises(FileExistsError, match='db.lmdb'):
        create_lmdb.main(['--input', str(src), '--output', str(out), '--n-thread', '1'])
    new = _write(src / 'x.png', _random((8, 2, 3), 7))
    create_lmdb.main(['--input', str(src), '--output', str(out), '--n-thread', '1', '--overwrite'])
    assert read_lmdb_meta_info(out) == [('x', (8, 2, 3), 1)]
    assert np.array_equal(imfrombytes(LmdbBackend(str(out)).get('x')), imread(new))
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize('multiprocessing_read', [False, True])
def test_failure_leaves_no_partial_lmdb(tmp_path: Path, multiprocessing_read: bool) -> None:
    src, out = tmp_path / 'src', tmp_path / 'db.lmdb'
    _write(src / 'a.png', _random((4, 4, 3), 8))
    (src / 'b.png').write_bytes(b'not an image')
    with pytest.raises(DataError, match='b.png'):
        make_lmdb_from_imgs(src, out, ['a.png', 'b.png'], ['a', 'b'], batch=1, progress=False,
                            multiprocessing_read=multiprocessing_read, n_thread=2)
    assert not out.exists() and _leftovers(tmp_path) == []
    # an existing database survives a failed overwrite untouched
    make_lmdb_from_imgs(src, out, ['a.png'], ['a'], progress=False)
    with pytest.raises(DataError, match='b.png'):
        make_lmdb_from_imgs(src, out, ['a.png', 'b.png'], ['a', 'b'], overwrite=True, progress=False)
    assert read_lmdb_meta_info(out) == [('a', (4, 4, 3), 1)]
    assert _leftovers(tmp_path) == []


def test_bad_keys_name_the_file(tmp_path: Path) -> None:
    src = tmp_path / 'src'
    _write(src / 'ok.png', _random((2, 2, 3), 9))
    (src / 'caf\u00e9.png').write_bytes((src / 'ok.png').read_bytes())
    with pytest.raises(DataError, match='caf\u00e9.png.*ASCII'):
        create_lmdb.main(['--input', str(src), '--output', str(tmp_path / 'x.lmdb')])
    with pytest.raises(DataError, match="ok.jpg.*'ok'.*ok.png"):
        make_lmdb_from_imgs(src, tmp_path / 'y.lmdb', ['ok.png', 'ok.jpg'], ['ok', 'ok'])
    with pytest.raises(ValueError, match="must end with '.lmdb'"):
        make_lmdb_from_imgs(src, tmp_path / 'z', ['ok.png'], ['ok'])
    assert not any(tmp_path.glob('*.lmdb'))


def test_map_size_grows_when_too_small(tmp_path: Path) -> None:
    src = tmp_path / 'src'
    names = [f'{i:02d}.png' for i in range(12)]
    for i, name in enumerate(names):
        _write(src / name, _random((40, 40, 3), 10 + i))  # incompressible, ~4.8 KB each
    out = tmp_path / 'db.lmdb'
    make_lmdb_from_imgs(src, out, names, [n[:-4] for n in names], batch=5, map_size=32 * 1024, progress=False)
    backend = LmdbBackend(str(out))
    for name in names:
        assert np.array_equal(imfrombytes(backend.get(name[:-4])), imread(src / name))


def test_read_meta_info_names_bad_line(tmp_path: Path) -> None:
    db = tmp_path / 'x.lmdb'
    db.mkdir()
    (db / 'meta_info.txt').write_text('a.b.png (1,2,3) 1\nbroken line\n')
    with pytest.raises(DataError, match=r'meta_info.txt:2'):
        read_lmdb_meta_info(db)
    (db / 'meta_info.txt').write_text('a.b.png (1,2,3) 1\n')
    assert read_lmdb_meta_info(db) == [('a.b', (1, 2, 3), 1)]


# ------------------------------------------------------------------------------------------ extract_subimages
@pytest.mark.parametrize('size, crop, step, thresh, expected', [
    (10, 4, 2, 0, [0, 2, 4, 6]),            # crops end exactly at the border
    (11, 4, 2, 0, [0, 2, 4, 6, 7]),         # 1 pixel left: flush last crop
    (11, 4, 2, 1, [0, 2, 4, 6]),            # remainder not above the threshold: dropped
    (12, 4, 3, 1, [0, 3, 6, 8]),            # remainder 2 > 1
    (4, 4, 2, 0, [0]),
    (3, 4, 2, 0, []),                       # smaller than a crop
    (2040, 480, 240, 0, [0, 240, 480, 720, 960, 1200, 1440, 1560]),  # DIV2K width
])
def test_crop_positions(size: int, crop: int, step: int, thresh: int, expected: list[int]) -> None:
    assert crop_positions(size, crop, step, thresh) == expected


def test_crop_positions_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match='step'):
        crop_positions(10, 4, 0)


def test_crop_boxes_row_major() -> None:
    assert crop_boxes(5, 6, 4, 2) == [(0, 0), (0, 2), (1, 0), (1, 2)]


def test_extract_subimages_writes_crops(tmp_path: Path) -> None:
    img = _random((9, 13, 3), 20)
    _write(tmp_path / 'in' / '0001.png', img)
    _write(tmp_path / 'in' / 'tiny.png', _random((3, 3, 3), 21))
    out = tmp_path / 'out'
    extract_subimages.main(['--input', str(tmp_path / 'in'), '--output', str(out), '--crop-size', '5',
                            '--step', '4', '--n-thread', '1'])
    boxes = crop_boxes(9, 13, 5, 4)  # tops [0, 4], lefts [0, 4, 8]
    assert len(boxes) == 6
    assert sorted(p.name for p in out.iterdir()) == [f'0001_s{i:03d}.png' for i in range(1, 7)]
    for index, (top, left) in enumerate(boxes, 1):
        assert np.array_equal(imread(out / f'0001_s{index:03d}.png'), img[top:top + 5, left:left + 5])
    with pytest.raises(SystemExit, match='not empty'):
        extract_subimages.main(['--input', str(tmp_path / 'in'), '--output', str(out)])


def test_extract_subimages_hr_lr_correspond(tmp_path: Path) -> None:
    scale = 4
    lr = _random((11, 21, 3), 22)
    hr = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)  # 44 x 84: sampling every 4th pixel gives lr back
    _write(tmp_path / 'HR' / 'im.png', hr)
    _write(tmp_path / 'LR' / 'im.png', lr)
    # HR: rows 0,12,24 (remainder 4 <= thresh 4: none added), cols 0..60 step 12 plus 68 (remainder 8 > 4)
    hr_args = ['--crop-size', '16', '--step', '12', '--thresh-size', '4']
    lr_args = ['--crop-size', '4', '--step', '3', '--thresh-size', '1']
    for name, args in (('HR', hr_args), ('LR', lr_args)):
        extract_subimages.main(['--input', str(tmp_path / name), '--output', str(tmp_path / f'{name}_sub'),
                                '--n-thread', '2', *args])
    hr_files = sorted(p.name for p in (tmp_path / 'HR_sub').iterdir())
    assert hr_files == sorted(p.name for p in (tmp_path / 'LR_sub').iterdir())
    assert len(hr_files) == 3 * 7
    for name in hr_files:
        hr_sub, lr_sub = imread(tmp_path / 'HR_sub' / name), imread(tmp_path / 'LR_sub' / name)
        assert hr_sub.shape == (16, 16, 3) and lr_sub.shape == (4, 4, 3)
        assert np.array_equal(hr_sub[::scale, ::scale], lr_sub), name


# ----------------------------------------------------------------------------------------------- generate_lr
@pytest.fixture
def generate_lr():
    """The script module, imported lazily (it needs basicsr.utils.matlab_functions)."""
    return importlib.import_module('generate_lr')


def _reference_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    from basicsr.utils.matlab_functions import imresize
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    return np.clip(np.round(imresize(hr[:h, :w] / 255., 1 / scale) * 255.), 0, 255).astype(np.uint8)


def test_generate_lr_single_scale(tmp_path: Path, generate_lr) -> None:
    colour, grey = _random((13, 18, 3), 30), _random((10, 11), 31)
    _write(tmp_path / 'HR' / 'a.png', colour)
    _write(tmp_path / 'HR' / 'g.png', grey)
    generate_lr.main(['--input', str(tmp_path / 'HR'), '--output', str(tmp_path / 'LR'), '--scale', '4',
                      '--n-thread', '1'])
    lr_a, lr_g = imread(tmp_path / 'LR' / 'a.png', 'unchanged'), imread(tmp_path / 'LR' / 'g.png', 'unchanged')
    assert lr_a.shape == (3, 4, 3) and lr_g.shape == (2, 2)
    assert np.array_equal(lr_a, _reference_lr(colour, 4))
    assert np.array_equal(lr_g, _reference_lr(grey, 4))


def test_generate_lr_multi_scale_suffix_and_hr(tmp_path: Path, generate_lr) -> None:
    hr = _random((13, 17, 3), 32)
    _write(tmp_path / 'HR' / '0001.png', hr)
    generate_lr.main(['--input', str(tmp_path / 'HR'), '--output', str(tmp_path / 'LR'), '--scales', '2', '3',
                      '--suffix', '--save-hr', str(tmp_path / 'GT'), '--n-thread', '2'])
    for scale, (h, w) in ((2, (6, 8)), (3, (4, 5))):
        lr = imread(tmp_path / 'LR' / f'X{scale}' / f'0001x{scale}.png')
        assert lr.shape == (h, w, 3)
        assert np.array_equal(lr, _reference_lr(hr, scale))
        saved_hr = imread(tmp_path / 'GT' / f'X{scale}' / '0001.png')
        assert np.array_equal(saved_hr, hr[:h * scale, :w * scale])


def test_generate_lr_without_mod_crop(tmp_path: Path, generate_lr) -> None:
    _write(tmp_path / 'HR' / 'a.png', _random((13, 18, 3), 33))
    generate_lr.main(['--input', str(tmp_path / 'HR'), '--output', str(tmp_path / 'LR'), '--scale', '4',
                      '--no-mod-crop', '--n-thread', '1'])
    assert imread(tmp_path / 'LR' / 'a.png').shape == (4, 5, 3)  # ceil(13/4), ceil(18/4)


def test_generate_lr_gtmod_folder_sets_the_crop(tmp_path: Path, generate_lr) -> None:
    hr = _random((29, 40, 3), 34)
    _write(tmp_path / 'HR' / 'a.png', hr)
    generate_lr.main(['--input', str(tmp_path / 'HR'), '--output', str(tmp_path / 'LRbicx4'), '--scale', '4',
                      '--save-hr', str(tmp_path / 'GTmod12'), '--n-thread', '1'])
    assert np.array_equal(imread(tmp_path / 'GTmod12' / 'a.png'), hr[:24, :36])  # 12 | 24, 36 (not 28 x 40)
    assert np.array_equal(imread(tmp_path / 'LRbicx4' / 'a.png'), _reference_lr(hr[:24, :36], 4))


@pytest.mark.parametrize('args, message', [
    (['--scale', '4', '--save-hr', 'GTmod12', '--mod', '8'], 'use --mod 12'),
    (['--scale', '4', '--save-hr', 'GTmod6'], 'not a multiple of every scale'),
    (['--scales', '2', '3', '--mod', '4'], 'not a multiple of every scale'),
    (['--scale', '4', '--save-hr', 'GTmod12', '--no-mod-crop'], 'contradicts --save-hr'),
])
def test_generate_lr_refuses_a_crop_the_folder_name_contradicts(tmp_path: Path, generate_lr, args: list[str],
                                                                 message: str) -> None:
    _write(tmp_path / 'HR' / 'a.png', _random((24, 24, 3), 35))
    args = [str(tmp_path / a) if a.startswith('GTmod') else a for a in args]
    with pytest.raises(SystemExit, match=message):
        generate_lr.main(['--input', str(tmp_path / 'HR'), '--output', str(tmp_path / 'LR'), '--n-thread', '1',
                          *args])
    assert not (tmp_path / 'LR').exists()


def test_generate_lr_mod_option_crops_every_scale_alike(tmp_path: Path, generate_lr) -> None:
    hr = _random((25, 26, 3), 36)
    _write(tmp_path / 'HR' / 'a.png', hr)
    generate_lr.main(['--input', str(tmp_path / 'HR'), '--output', str(tmp_path / 'LR'), '--scales', '2', '3',
                      '--mod', '6', '--save-hr', str(tmp_path / 'GT'), '--n-thread', '1'])
    for scale in (2, 3):
        assert np.array_equal(imread(tmp_path / 'GT' / f'X{scale}' / 'a.png'), hr[:24, :24])
        assert imread(tmp_path / 'LR' / f'X{scale}' / 'a.png').shape == (24 // scale, 24 // scale, 3)


# ------------------------------------------------------------------------------------ run as plain scripts
def test_script_runs_from_repo_root_without_install(tmp_path: Path) -> None:
    _write(tmp_path / 'src' / 'x.png', _random((3, 4, 3), 40))
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    result = subprocess.run([sys.executable, 'scripts/create_lmdb.py', '--input', str(tmp_path / 'src'),
                             '--output', str(tmp_path / 'x.lmdb'), '--n-thread', '1'],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert read_lmdb_meta_info(tmp_path / 'x.lmdb') == [('x', (3, 4, 3), 1)]
