"""Pack image folders into LMDB databases in BasicSR's layout.

    python scripts/create_lmdb.py --input datasets/DIV2K/DIV2K_train_HR_sub --output datasets/DIV2K/HR_sub.lmdb
    python scripts/create_lmdb.py --input HR_sub LR_sub/X4 --output HR_sub.lmdb LR_sub_X4.lmdb --n-thread 8

Folders are scanned recursively; each image's key is its path relative to the folder, without extension
('/' separates sub-folders). See :mod:`basicsr.utils.lmdb_util` for the database layout.
"""
import argparse
import os
from pathlib import Path, PurePosixPath

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.utils.lmdb_util import make_lmdb_from_imgs, validate_lmdb_job
from basicsr.utils.misc import scan_images, sizeof_fmt


def image_keys(rel_paths: list[str]) -> list[str]:
    """LMDB keys of images given by POSIX paths relative to their folder: the path without its extension."""
    return [str(PurePosixPath(p).with_suffix('')) for p in rel_paths]


def folder_size(path: Path) -> int:
    """Total size in bytes of the files in ``path``."""
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--input', nargs='+', required=True, metavar='FOLDER', help='image folder(s)')
    parser.add_argument('--output', nargs='+', required=True, metavar='X.lmdb',
                        help='database folder(s), one per input, ending in .lmdb')
    parser.add_argument('--compress-level', type=int, default=1, choices=range(10), metavar='0-9',
                        help='PNG compression of the stored images')
    parser.add_argument('--n-thread', type=int, default=min(4, os.cpu_count() or 1),
                        help='processes reading and encoding images (1: no pool)')
    parser.add_argument('--batch', type=int, default=5000, help='images per LMDB commit')
    parser.add_argument('--overwrite', action='store_true', help='replace existing databases')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if len(args.input) != len(args.output):
        raise SystemExit(f'--input has {len(args.input)} folders but --output has {len(args.output)} databases; '
                         'give one output per input.')
    jobs = []
    for data_path, lmdb_path in zip(args.input, args.output):  # check everything before writing anything
        if not Path(data_path).is_dir():
            raise SystemExit(f'--input: folder {data_path} not found.')
        rel_paths = scan_images(data_path, recursive=True)
        keys = image_keys(rel_paths)
        validate_lmdb_job(data_path, lmdb_path, rel_paths, keys, args.batch, args.compress_level, args.overwrite)
        jobs.append((data_path, lmdb_path, rel_paths, keys))
    for data_path, lmdb_path, rel_paths, keys in jobs:
        make_lmdb_from_imgs(data_path, lmdb_path, rel_paths, keys, batch=args.batch,
                            compress_level=args.compress_level, multiprocessing_read=args.n_thread > 1,
                            n_thread=args.n_thread, overwrite=args.overwrite)
        print(f'{lmdb_path}: {len(keys)} images from {data_path}, {sizeof_fmt(folder_size(Path(lmdb_path)))}')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
