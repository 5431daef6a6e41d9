"""Download Set5, Set14 and DIV2K and prepare them as the option files expect, in one command.

    python scripts/download_datasets.py --list
    python scripts/download_datasets.py Set5 Set14        # a few MB: HR, GTmod12, LRbicx2/3/4
    python scripts/download_datasets.py DIV2K             # ~4.3 GB of zips, then the sub-images
    python scripts/download_datasets.py --all

Everything goes to ``datasets/<name>/`` of this repository, whatever the current folder (``--root`` chooses
another parent folder). Each download is checked against its SHA-256 and written under its name only when complete
and correct; zips are extracted only if no member would land outside the target folder; every folder appears all
at once, so an interrupted run leaves no half-filled folder and running the command again finishes the work.

Preparation, as docs/training.md ("Train on DIV2K") does it by hand:

* Set5, Set14: ``HR`` (the original images), ``GTmod12`` (cropped to a multiple of 12) and ``LRbicx2/3/4`` (their
  MATLAB-bicubic downscales), with ``scripts/generate_lr.py``'s functions.
* DIV2K: ``DIV2K_train_HR``, ``DIV2K_valid_HR`` and the official bicubic x4 LR in
  ``DIV2K_{train,valid}_LR_bicubic/X4`` (renamed ``0001.png`` like their HR), then 480x480 sub-images of the training
  HR (step 240) and the matching 120x120 LR ones (step 60) with ``scripts/extract_subimages.py``'s functions.
"""
import argparse
import contextlib
import functools
import os
import sys
from pathlib import Path

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
import extract_subimages
import generate_lr
from basicsr.utils.download_util import download_remote_file, extract_zip, file_sha256, matches
from basicsr.utils.known_files import DATASETS, DATASETS_DIR, REPO_ROOT, Archive, Dataset, SubImages
from basicsr.utils.misc import folder_written_atomically, scan_images


def strip_suffix(suffix: str):
    """A renamer that removes ``suffix`` from the end of a file's stem (``0001x4.png`` -> ``0001.png``)."""
    def rename(name: str) -> str:
        stem, dot, ext = name.rpartition('.')
        return f'{stem[:-len(suffix)]}{dot}{ext}' if stem.endswith(suffix) else name
    return rename


def has_images(folder: Path, count: int | None = None) -> bool:
    """Whether ``folder`` holds images (exactly ``count`` of them when given)."""
    if not folder.is_dir():
        return False
    found = len(scan_images(folder, recursive=True))
    return found == count if count is not None else found > 0


def fetch_archive(archive: Archive, base: Path, options: argparse.Namespace) -> None:
    target = base / archive.folder
    if has_images(target, archive.images):
        print(f'present: {target}')
        return
    zip_path, _ = download_remote_file(archive.file, base, options.progress, options.timeout)
    count = extract_zip(zip_path, target, archive.folder,
                        strip_suffix(archive.strip_suffix) if archive.strip_suffix else None)
    if not options.keep_archives:
        zip_path.unlink()
    print(f'extracted: {target} ({count} files)')


def fetch_hr_images(dataset: Dataset, base: Path, options: argparse.Namespace) -> None:
    target = base / dataset.hr_folder
    if all((target / f.name).is_file() and matches(file_sha256(target / f.name), f.check)
           for f in dataset.hr_images):
        print(f'present: {target}')
        return
    with folder_written_atomically(target) as tmp:
        for f in dataset.hr_images:
            download_remote_file(f, tmp, options.progress, options.timeout, place=target / f.name)
    print(f'downloaded: {target} ({len(dataset.hr_images)} images, SHA-256 checked)')


def make_subimages(step: SubImages, base: Path, options: argparse.Namespace) -> None:
    src, target = base / step.src, base / step.dst
    if has_images(target):
        print(f'present: {target}')
        return
    rel_paths = scan_images(src, recursive=True)
    with folder_written_atomically(target) as tmp:
        settings = extract_subimages.CropSettings(src, tmp, step.crop_size, step.step, thresh_size=0,
                                                  compress_level=3)
        work = functools.partial(extract_subimages.extract_one, settings=settings)
        written = sum(n for _, n, _ in _bootstrap.parallel_map(work, rel_paths, options.n_thread,
                                                              desc=f'sub-images {step.dst}', total=len(rel_paths)))
    print(f'prepared: {target} ({written} sub-images)')


def make_bicubic(dataset: Dataset, base: Path, options: argparse.Namespace) -> None:
    spec = dataset.bicubic
    outputs = [base / spec.gt] + [base / spec.lr(s) for s in spec.scales]
    if all(has_images(folder) for folder in outputs):
        print(f'present: {", ".join(str(f) for f in outputs)}')
        return
    src = base / spec.src
    rel_paths = scan_images(src, recursive=True)
    with contextlib.ExitStack() as stack:
        gt, *lrs = [stack.enter_context(folder_written_atomically(folder)) for folder in outputs]
        targets = tuple(generate_lr.Target(s, lr, gt if i == 0 else None, spec.mod)
                        for i, (s, lr) in enumerate(zip(spec.scales, lrs)))
        work = functools.partial(generate_lr.process_one, input_dir=src, targets=targets, crop=True, suffix=False)
        list(_bootstrap.parallel_map(work, rel_paths, options.n_thread, desc=f'{dataset.name} bicubic',
                                     total=len(rel_paths)))
    print(f'prepared: {", ".join(str(f) for f in outputs)}')


def prepare(dataset: Dataset, root: Path, options: argparse.Namespace) -> None:
    """Download what is missing of ``dataset`` below ``root/<name>`` and make its derived folders."""
    base = root / dataset.name
    for archive in dataset.archives:
        fetch_archive(archive, base, options)
    if dataset.hr_images:
        fetch_hr_images(dataset, base, options)
    for step in dataset.subimages:
        make_subimages(step, base, options)
    if dataset.bicubic:
        make_bicubic(dataset, base, options)


def listing() -> str:
    return '\n'.join(f'{d.name}: {d.note}\n  ' + ', '.join(d.provides) for d in DATASETS.values())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('names', nargs='*', metavar='NAME', help=f'datasets: {", ".join(DATASETS)}')
    parser.add_argument('--all', action='store_true', help='every dataset')
    parser.add_argument('--list', action='store_true', help='list the datasets and the folders each gives, and exit')
    parser.add_argument('--root', default=str(REPO_ROOT / DATASETS_DIR),
                        help='parent folder of the datasets (default: datasets/ of this repository)')
    parser.add_argument('--keep-archives', action='store_true', help='keep the zips after extracting them')
    parser.add_argument('--n-thread', type=int, default=min(8, os.cpu_count() or 1), help='worker processes')
    parser.add_argument('--timeout', type=float, default=60, help='seconds without data before giving up')
    parser.add_argument('--no-progress', dest='progress', action='store_false', help='no download progress bars')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        print(listing())
        return 0
    by_name = {name.lower(): d for name, d in DATASETS.items()}
    unknown = [n for n in args.names if n.lower() not in by_name]
    if unknown or not (args.names or args.all):
        raise SystemExit(f'name the datasets to download ({", ".join(DATASETS)}) or give --all'
                         + (f'; unknown: {", ".join(unknown)}' if unknown else '') + '.')
    chosen = list(DATASETS.values()) if args.all else list({by_name[n.lower()].name: by_name[n.lower()]
                                                             for n in args.names}.values())
    try:
        for dataset in chosen:
            prepare(dataset, Path(args.root), args)
    except KeyboardInterrupt:
        print('interrupted: nothing partial was kept; run the same command again to continue.', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
