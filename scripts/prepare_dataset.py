"""Turn a folder of your own high-resolution images into a training set, in one command.

    python scripts/prepare_dataset.py --hr my_photos --scale 4 --out datasets/my_photos
    python scripts/prepare_dataset.py --hr my_photos --scale 4 --out datasets/my_photos --sub-images --lmdb \\
        --write-options options/train_my_photos.yml

Steps: ``--val-split`` images (chosen at random with ``--seed``; default 10%) are held out for validation; every HR
image is cropped to a multiple of the scale and downscaled with the MATLAB-compatible bicubic ``imresize``
(``generate_lr.py``), so each LR pixel covers exactly ``scale x scale`` HR pixels; with ``--sub-images`` the training
pairs are cut into aligned sub-images (``extract_subimages.py``: HR crop and step multiples of the scale, the LR ones
divided by it); ``meta_info_train.txt`` lists the training GT files; ``--lmdb`` also packs them into LMDB
(``create_lmdb.py``). Layout under ``--out``::

    train/HR  train/LR_bicubic/X4  [train/HR_sub  train/LR_bicubic_sub/X4]  [*.lmdb]  val/HR  val/LR_bicubic/X4

The sub-image size is the largest multiple of the scale, at most 480, that every training image holds, unless
``--crop-size`` says otherwise. The option-file lines that train on the result are printed; ``--write-options FILE``
writes a whole option file instead (``--base``'s, default the MSRResNet demo's, with these data sets). Everything is
checked before anything is written, and the folder appears only once complete: input that would give no training
pairs or misaligned ones (images smaller than the scale, a crop size larger than every image or not a multiple of the
scale) is refused with the reason.
"""
import argparse
import functools
import os
import random
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
import create_lmdb
import extract_subimages
import generate_lr
from basicsr.utils.errors import DataError
from basicsr.utils.image_header import image_size
from basicsr.utils.img_util import imread
from basicsr.utils.lmdb_util import make_lmdb_from_imgs
from basicsr.utils.misc import folder_written_atomically

MAX_CROP = 480  # BasicSR's DIV2K sub-image size
MAX_GT_SIZE = 128  # the training patch of BasicSR's x4 recipes
META_INFO = 'meta_info_train.txt'
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE = REPO_ROOT / 'options' / 'demo' / 'train_msrresnet_x4_demo.yml'


@dataclass(frozen=True)
class Plan:
    """What will be written, decided (and checked) before anything is."""
    train: list[str]
    val: list[str]
    crop: int | None  # sub-image size (HR pixels); None: whole images
    step: int | None
    gt_size: int  # training patch (HR pixels)
    too_small: list[str]  # training images smaller than the crop: they give no sub-image


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--hr', required=True, help='folder of your HR images (scanned recursively)')
    parser.add_argument('--scale', type=int, required=True, help='upscaling factor (2, 3, 4, ...)')
    parser.add_argument('--out', required=True, help='data set folder to create, e.g. datasets/NAME')
    parser.add_argument('--val-split', type=int, metavar='N',
                        help='images held out for validation (default: 10%% of them, at least 1; 0: none)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the validation choice')
    parser.add_argument('--sub-images', action='store_true', help='cut the training pairs into aligned sub-images')
    parser.add_argument('--crop-size', type=int, metavar='N', help='HR sub-image size (a multiple of --scale)')
    parser.add_argument('--step', type=int, metavar='N', help='HR sub-image step (default: half the crop size)')
    parser.add_argument('--lmdb', action='store_true', help='also pack the training pairs into LMDB databases')
    parser.add_argument('--write-options', metavar='FILE', help='write a whole option file training on the result')
    parser.add_argument('--base', default=str(DEFAULT_BASE), metavar='FILE',
                        help='option file whose network and training settings --write-options uses')
    parser.add_argument('--n-thread', type=int, default=min(8, os.cpu_count() or 1), help='worker processes')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out folder / option file')
    return parser


def cropped_size(path: Path, scale: int) -> tuple[int, int]:
    """(height, width) of an image after cropping to a multiple of ``scale``, read from its header if possible."""
    size = image_size(path.read_bytes())
    height, width = (size[1], size[0]) if size is not None else imread(path, flag='unchanged').shape[:2]
    return height - height % scale, width - width % scale


def floor_to(value: int, multiple: int) -> int:
    return value - value % multiple


def make_plan(args: argparse.Namespace, rel_paths: list[str], sizes: dict[str, tuple[int, int]]) -> Plan:
    """Split, crop size, step and patch size; SystemExit with the reason for input that would give nothing usable."""
    scale = args.scale
    stems: dict[str, str] = {}
    for path in rel_paths:  # outputs are PNG files named after the input's stem
        clash = stems.setdefault(str(PurePosixPath(path).with_suffix('')), path)
        if clash != path:
            raise SystemExit(f'--hr: {clash} and {path} would both become {PurePosixPath(path).with_suffix(".png")}; '
                             'rename one.')
    tiny = [p for p, (h, w) in sizes.items() if h == 0 or w == 0]
    if tiny:
        raise SystemExit(f'--hr: {tiny[0]} is smaller than {scale}x{scale} pixels: it has no x{scale} LR image '
                         f'({len(tiny)} such image(s)); remove them or choose a smaller --scale.')
    n_val = args.val_split if args.val_split is not None else (max(1, round(0.1 * len(rel_paths)))
                                                               if len(rel_paths) > 1 else 0)
    if not 0 <= n_val < len(rel_paths):
        raise SystemExit(f'--val-split {n_val}: must be at least 0 and leave training images ({len(rel_paths)} '
                         f'images in {args.hr}).')
    val = sorted(random.Random(args.seed).sample(rel_paths, n_val))
    held_out = set(val)
    train = [p for p in rel_paths if p not in held_out]
    shortest = {p: min(sizes[p]) for p in train}
    crop = step = None
    too_small: list[str] = []
    if args.sub_images or args.crop_size is not None:
        crop = args.crop_size if args.crop_size is not None else min(MAX_CROP, floor_to(min(shortest.values()), scale))
        if crop < scale or crop % scale:
            raise SystemExit(f'--crop-size {crop}: must be a positive multiple of --scale {scale}, or the HR and LR '
                             'sub-images would not line up.')
        largest = max(train, key=lambda p: shortest[p])
        if crop > shortest[largest]:
            h, w = sizes[largest]
            raise SystemExit(f'--crop-size {crop}: larger than every training image (the largest, {largest}, is '
                             f'{w}x{h} after cropping to a multiple of {scale}), so no sub-image would be cut; use '
                             f'--crop-size {floor_to(min(MAX_CROP, shortest[largest]), scale)} or less.')
        step = args.step if args.step is not None else max(scale, floor_to(crop // 2, scale))
        if step < scale or step % scale:
            raise SystemExit(f'--step {step}: must be a positive multiple of --scale {scale}, or the HR and LR '
                             'sub-images would not line up.')
        too_small = sorted(p for p in train if shortest[p] < crop)
    smallest = crop if crop is not None else min(shortest.values())
    gt_size = floor_to(min(MAX_GT_SIZE, smallest), scale)
    return Plan(train, val, crop, step, gt_size, too_small)


def write_pairs(hr_dir: Path, rel_paths: list[str], split_dir: Path, scale: int, n_thread: int, desc: str) -> None:
    """Mod-cropped HR into ``split_dir/HR`` and its bicubic LR into ``split_dir/LR_bicubic/X{scale}``."""
    targets = generate_lr.make_targets(split_dir / f'LR_bicubic/X{scale}', split_dir / 'HR', [scale],
                                       per_scale_folders=False)
    work = functools.partial(generate_lr.process_one, input_dir=hr_dir, targets=targets, crop=True, suffix=False)
    for _ in _bootstrap.parallel_map(work, rel_paths, n_thread, desc=desc, total=len(rel_paths)):
        pass


def cut_subimages(split_dir: Path, rel_paths: list[str], plan: Plan, scale: int, n_thread: int) -> list[str]:
    """Aligned HR and LR sub-images; returns the HR sub-image names. A count that differs between an HR image and
    its LR image would mean misaligned pairs: a DataError naming the image."""
    counts = {}
    for folder, sub_folder, factor in (('HR', 'HR_sub', 1),
                                       (f'LR_bicubic/X{scale}', f'LR_bicubic_sub/X{scale}', scale)):
        settings = extract_subimages.CropSettings(split_dir / folder, split_dir / sub_folder, plan.crop // factor,
                                                  plan.step // factor, 0, 3)
        work = functools.partial(extract_subimages.extract_one, settings=settings)
        counts[factor] = {path: count for path, count, _ in
                          _bootstrap.parallel_map(work, rel_paths, n_thread, desc=f'sub-images {folder}',
                                                  total=len(rel_paths))}
    for path in rel_paths:
        if counts[1][path] != counts[scale][path]:
            raise DataError(f'{path}: {counts[1][path]} HR sub-images but {counts[scale][path]} LR ones; the HR '
                            f'image is not {scale} times the LR one.')
    names = []
    for path in sorted(rel_paths):
        rel = PurePosixPath(path)
        names += [str(rel.parent / f'{rel.stem}_s{i:03d}{rel.suffix}') for i in range(1, counts[1][path] + 1)]
    return names


def training_folders(plan: Plan, scale: int, lmdb: bool) -> tuple[str, str]:
    """The GT and LQ training folders relative to ``train/`` (the LMDB databases made from them with ``lmdb``)."""
    folders = ('HR_sub', f'LR_bicubic_sub/X{scale}') if plan.crop else ('HR', f'LR_bicubic/X{scale}')
    return tuple(lmdb_name(f) for f in folders) if lmdb else folders


def lmdb_name(folder: str) -> str:
    return f"{folder.replace('/', '_')}.lmdb"


def option_path(path: Path) -> str:
    """``path`` as an option file names it: relative to the repository root (where ``python train.py`` resolves
    relative paths) when inside it, else absolute."""
    path = path.resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def dataset_options(out: Path, name: str, plan: Plan, scale: int, lmdb: bool) -> dict:
    """The ``datasets`` section training on the prepared folder."""
    train_dir, val_dir = out / 'train', out / 'val'
    hr, lr = training_folders(plan, scale, lmdb)
    train = {'name': name, 'type': 'PairedImageDataset', 'dataroot_gt': option_path(train_dir / hr),
             'dataroot_lq': option_path(train_dir / lr)}
    if lmdb:  # the databases carry their own meta_info.txt
        train['io_backend'] = {'type': 'lmdb'}
    else:
        train.update(meta_info_file=option_path(out / META_INFO), io_backend={'type': 'disk'})
    train.update(gt_size=plan.gt_size, use_hflip=True, use_rot=True)
    datasets = {'train': train}
    if plan.val:
        datasets['val'] = {'name': f'{name}_val', 'type': 'PairedImageDataset',
                           'dataroot_gt': option_path(val_dir / 'HR'),
                           'dataroot_lq': option_path(val_dir / f'LR_bicubic/X{scale}'), 'io_backend': {'type': 'disk'}}
    return datasets


def option_file(base_path: Path, name: str, scale: int, datasets: dict) -> dict:
    """``base_path``'s options training on ``datasets``: its loader settings kept, its network set to ``scale``."""
    try:
        base = yaml.safe_load(base_path.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as err:
        raise SystemExit(f'--base: cannot read {base_path}: {err}') from None
    base_train = (base.get('datasets') or {}).get('train') or {}
    loader_keys = ('num_worker_per_gpu', 'batch_size_per_gpu', 'dataset_enlarge_ratio')
    datasets['train'].update({k: base_train[k] for k in loader_keys if k in base_train})
    network = dict(base.get('network_g') or {})
    for key in ('upscale', 'scale'):  # the scale arguments of the project's networks
        if key in network:
            network[key] = scale
    opt = {**base, 'name': name, 'scale': scale, 'datasets': datasets, 'network_g': network}
    opt.pop('prepare_demo_data', None)
    if 'val' not in datasets:
        opt.pop('val', None)
    else:  # PSNR/SSIM leave out a border of `scale` pixels, as papers do
        metrics = (opt.get('val') or {}).get('metrics') or {}
        opt['val'] = {**opt['val'], 'metrics': {
            key: {**metric, 'crop_border': scale} if 'crop_border' in metric else metric
            for key, metric in metrics.items()}}
    return opt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.scale < 1:
        raise SystemExit(f'--scale: must be a positive integer, got {args.scale}.')
    hr_dir, out = Path(args.hr), Path(args.out)
    rel_paths = _bootstrap.input_images(hr_dir)
    _bootstrap.refuse_existing_output(out, args.overwrite, '--out')
    if args.write_options:
        _bootstrap.refuse_existing_output(Path(args.write_options), args.overwrite, '--write-options')
    sizes = {p: cropped_size(hr_dir / p, args.scale) for p in rel_paths}
    plan = make_plan(args, rel_paths, sizes)
    name = out.name
    with folder_written_atomically(out) as tmp:
        write_pairs(hr_dir, plan.train, tmp / 'train', args.scale, args.n_thread, 'train HR/LR')
        if plan.val:
            write_pairs(hr_dir, plan.val, tmp / 'val', args.scale, args.n_thread, 'val HR/LR')
        pngs = [str(PurePosixPath(p).with_suffix('.png')) for p in plan.train]
        names = cut_subimages(tmp / 'train', pngs, plan, args.scale, args.n_thread) if plan.crop else sorted(pngs)
        (tmp / META_INFO).write_text(''.join(f'{n}\n' for n in names), encoding='utf-8')
        if args.lmdb:
            for folder in training_folders(plan, args.scale, lmdb=False):
                make_lmdb_from_imgs(tmp / 'train' / folder, tmp / 'train' / lmdb_name(folder), names,
                                    create_lmdb.image_keys(names))
    datasets = dataset_options(out, name, plan, args.scale, args.lmdb)
    crops = f', sub-images {plan.crop} px every {plan.step} px' if plan.crop else ''
    print(f'{out}: {len(plan.train)} training images ({len(names)} pairs{crops}), {len(plan.val)} validation '
          f'images, x{args.scale}; training patch gt_size {plan.gt_size}.')
    if plan.too_small:
        print(f'{len(plan.too_small)} training image(s) smaller than the crop size {plan.crop} gave no sub-image: '
              + ', '.join(plan.too_small))
    if args.write_options:
        opt = option_file(Path(args.base), name, args.scale, datasets)
        Path(args.write_options).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write_options).write_text(yaml.safe_dump(opt, sort_keys=False), encoding='utf-8')
        print(f'Option file written: train with  python train.py -opt {args.write_options}')
    else:
        print('Option-file lines (relative paths are relative to the repository root, as train.py reads them):\n')
        print(yaml.safe_dump({'scale': args.scale, 'datasets': datasets}, sort_keys=False))
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
