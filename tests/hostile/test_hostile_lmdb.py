"""Hostile input (issue 26): damaged LMDB databases are one clear error naming the database (and key), found when
the dataset is made; a crash inside liblmdb happens in a checking process, not in training. One database may
back several datasets of one process."""
import struct
from pathlib import Path

import numpy as np
import pytest

from basicsr.data.file_client import LmdbBackend
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import imwrite
from basicsr.utils.lmdb_util import make_lmdb_from_imgs

PAGE = 4096
LEAF = 2  # a database of a few overflow-sized values has one leaf page, the root, after the two meta pages


@pytest.fixture
def database(tmp_path) -> Path:
    src = tmp_path / 'src'
    for i in range(6):
        imwrite(np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8), src / f'im{i}.png')
    path = tmp_path / 'gt.lmdb'
    make_lmdb_from_imgs(src, path, [f'im{i}.png' for i in range(6)], [f'im{i}' for i in range(6)], progress=False)
    return path


def _poke(path: Path, offset_in_leaf: int, data: bytes) -> None:
    """Overwrite bytes of the leaf page, counted from its first node (the page's 'upper' bound)."""
    raw = bytearray((path / 'data.mdb').read_bytes())
    flags, _, upper = struct.unpack('<HHH', raw[LEAF * PAGE + 10:LEAF * PAGE + 16])
    assert flags & 0x02, 'expected the leaf page'
    start = LEAF * PAGE + upper + offset_in_leaf
    raw[start:start + len(data)] = data
    (path / 'data.mdb').write_bytes(bytes(raw))


def test_a_node_size_that_crashes_liblmdb_is_one_line(database):
    _poke(database, 0, b'\xff\xff\xff\x7f')  # a node's data size: liblmdb reads far past the map (SIGBUS)
    with pytest.raises(DataError, match=r'damaged LMDB: reading it crashes liblmdb \(SIG(BUS|SEGV)') as info:
        LmdbBackend(str(database))
    assert str(database) in str(info.value) and '\n' not in str(info.value)


def test_a_dangling_page_number_is_one_line_naming_the_database(database):
    _poke(database, 9, b'\xff\xff\xff\x7f')  # inside a node's key / overflow page number
    with pytest.raises(DataError, match=rf'{database}: ') as info:
        LmdbBackend(str(database))
    assert '\n' not in str(info.value)


def test_a_value_that_is_not_its_declared_image_is_named_by_key(database):
    meta = database / 'meta_info.txt'
    meta.write_text(meta.read_text().replace('im3.png (40,40,3)', 'im3.png (4000,4000,3)'))
    with pytest.raises(DataError, match=r"key 'im3': the value is a 40x40 PNG, meta_info.txt says \(4000,4000,3\)"):
        LmdbBackend(str(database))


def test_a_read_that_fails_after_the_check_names_database_and_key(database):
    backend = LmdbBackend(str(database))
    _poke(database, 9, b'\xff\xff\xff\x7f')  # damaged while in use (the check is done once per file version)
    errors = []
    for i in range(6):
        try:
            backend.get(f'im{i}')
        except DataError as err:
            errors.append(str(err))
    assert errors and all(str(database) in e and "key 'im" in e and '\n' not in e for e in errors)


def test_train_and_val_on_one_database_share_its_environment(database):
    a, b = LmdbBackend([str(database), str(database)], ['gt', 'lq']), LmdbBackend(str(database))
    assert a.get('im1', 'gt') == a.get('im1', 'lq') == b.get('im1')
    train = PairedImageDataset(str(database), None, io_backend={'type': 'lmdb'}, phase='val')
    val = PairedImageDataset(str(database), None, io_backend={'type': 'lmdb'}, phase='val')
    assert train[0]['gt'].shape == val[1]['gt'].shape == (3, 40, 40)
