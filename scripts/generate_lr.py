"""Make bicubic low-resolution images with the MATLAB-compatible ``imresize`` (as SR papers and BasicSR do).

    python scripts/generate_lr.py --input DIV2K_train_HR --output DIV2K_train_LR_bicubic/X4 --scale 4
    python scripts/generate_lr.py --input Set5/HR --output Set5/LRbicx4 --scale 4 --save-hr Set5/GTmod12
    python scripts/generate_lr.py --input Set5/HR --output Set5/LR --scales 2 3 4 --save-hr Set5/GT --suffix

Each HR image is first cropped to a multiple of ``--mod`` (``--no-mod-crop`` turns that off; the LR size is then
``ceil(size / scale)``), downscaled in float and rounded to 8-bit PNG. ``--mod`` defaults to the N of a ``--save-hr``
folder named ``GTmodN`` (BasicSR's convention: ``GTmod12`` holds HR images cropped to a multiple of 12, which serves
x2, x3 and x4 alike), else to each scale itself; it must be a multiple of every scale, and a ``GTmodN`` folder
filled with another crop is refused. ``--scale S`` writes into ``--output``; ``--scales`` writes ``--output/X{S}``
per scale (likewise ``--save-hr``, which saves the mod-cropped HR images). Names keep the input's relative path and
stem, with ``.png``; ``--suffix`` gives DIV2K's ``{stem}x{S}.png``.
"""
import argparse
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path


import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.utils.errors import DataError
from basicsr.data.transforms import bicubic_downscale_uint8, mod_crop
from basicsr.utils.img_util import imread, imwrite


def lr_name(rel_path: str, scale: int, suffix: bool) -> Path:
    """Relative output path of the LR image: same folder and stem, ``.png``, ``x{scale}`` appended if ``suffix``."""
    rel = Path(rel_path)
    return rel.parent / f"{rel.stem}{f'x{scale}' if suffix else ''}.png"


@dataclass(frozen=True)
class Target:
    """One scale's output folders (``hr_dir`` None: mod-cropped HR not saved) and the multiple HR is cropped to."""
    scale: int
    lr_dir: Path
    hr_dir: Path | None
    mod: int


def process_one(rel_path: str, input_dir: Path, targets: tuple[Target, ...], crop: bool, suffix: bool) -> str:
    """Write the LR image (and, if asked, the mod-cropped HR) of one HR image for every target scale."""
    src = input_dir / rel_path
    img = imread(src, flag='unchanged')
    for target in targets:
        hr = mod_crop(img, target.mod) if crop else img
        if hr.shape[0] == 0 or hr.shape[1] == 0:
            raise DataError(f'{src}: {img.shape[1]}x{img.shape[0]} pixels is too small for a crop to a multiple '
                            f'of {target.mod}.')
        if target.hr_dir is not None:
            imwrite(hr, target.hr_dir / Path(rel_path).with_suffix('.png'))
        imwrite(bicubic_downscale_uint8(hr, target.scale), target.lr_dir / lr_name(rel_path, target.scale, suffix))
    return rel_path


def make_targets(output: Path, save_hr: Path | None, scales: list[int], per_scale_folders: bool,
                 mod: int | None = None) -> tuple[Target, ...]:
    """Output folders per scale: ``output`` itself, or ``output/X{S}`` when ``per_scale_folders``; HR is cropped to a
    multiple of ``mod`` (None: of each scale)."""
    def folder(root: Path | None, scale: int) -> Path | None:
        if root is None or not per_scale_folders:
            return root
        return root / f'X{scale}'
    return tuple(Target(s, folder(output, s), folder(save_hr, s), mod or s) for s in scales)


def folder_mod(folder: Path | None) -> int | None:
    """The N of a folder named ``GTmodN`` (BasicSR's name for HR images cropped to a multiple of N), else None."""
    match = re.fullmatch(r'GTmod(\d+)', folder.name) if folder is not None else None
    return int(match.group(1)) if match else None


def choose_mod(mod: int | None, save_hr: Path | None, scales: list[int], crop: bool) -> int | None:
    """The crop multiple: ``--mod``, else the one the ``--save-hr`` folder name implies, else None (each scale).

    Exits with a message when the two disagree, when the multiple is not one of every scale, or when HR images
    would be saved uncropped into a ``GTmodN`` folder.
    """
    implied = folder_mod(save_hr)
    if not crop:
        if mod is not None:
            raise SystemExit(f'--no-mod-crop: contradicts --mod {mod}.')
        if implied is not None:
            raise SystemExit(f'--no-mod-crop: contradicts --save-hr {save_hr} (a GTmod{implied} folder holds HR '
                             f'images cropped to a multiple of {implied}).')
        return None
    if mod is not None and implied is not None and mod != implied:
        raise SystemExit(f'--mod {mod}: --save-hr {save_hr} names a crop to a multiple of {implied}; '
                         f'use --mod {implied} or name the folder GTmod{mod}.')
    mod = mod if mod is not None else implied
    if mod is not None and (mod < 1 or any(mod % s for s in scales)):
        source = '--mod' if implied is None else f'--save-hr {save_hr}'
        raise SystemExit(f'{source}: {mod} is not a multiple of every scale {scales}, so the LR images of some '
                         f'scale would not match the HR ones pixel for pixel.')
    return mod


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--input', required=True, help='folder of HR images (scanned recursively)')
    parser.add_argument('--output', required=True, help='folder for the LR images')
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--scale', type=int, help='one scale, written directly into --output')
    group.add_argument('--scales', type=int, nargs='+', help='several scales, written into --output/X{S}')
    parser.add_argument('--mod-crop', action=argparse.BooleanOptionalAction, default=True,
                        help='crop HR to a multiple of --mod first (default: on)')
    parser.add_argument('--mod', type=int, metavar='N',
                        help='crop HR to a multiple of N, a multiple of every scale (default: the N of a --save-hr '
                             'folder named GTmodN, else each scale)')
    parser.add_argument('--save-hr', metavar='DIR', help='also save the mod-cropped HR images here')
    parser.add_argument('--suffix', action='store_true', help="name LR images '{stem}x{scale}.png' (DIV2K)")
    parser.add_argument('--n-thread', type=int, default=min(8, os.cpu_count() or 1), help='worker processes')
    parser.add_argument('--overwrite', action='store_true', help='write into existing non-empty output folders')
    return parser


def _check_output(folder: Path | None, option: str, overwrite: bool) -> None:
    if folder is not None and folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise SystemExit(f'{option}: folder {folder} exists and is not empty; pass --overwrite to write into it.')


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    input_dir = Path(args.input)
    rel_paths = _bootstrap.input_images(input_dir)
    scales = [args.scale] if args.scale is not None else args.scales
    if any(s < 1 for s in scales):
        raise SystemExit(f'--scale/--scales: scales must be positive integers, got {scales}.')
    save_hr = Path(args.save_hr) if args.save_hr else None
    mod = choose_mod(args.mod, save_hr, scales, args.mod_crop)
    targets = make_targets(Path(args.output), save_hr, scales, per_scale_folders=args.scales is not None, mod=mod)
    for target in targets:
        _check_output(target.lr_dir, '--output', args.overwrite)
        _check_output(target.hr_dir, '--save-hr', args.overwrite)
    work = functools.partial(process_one, input_dir=input_dir, targets=targets, crop=args.mod_crop,
                             suffix=args.suffix)
    done = list(_bootstrap.parallel_map(work, rel_paths, args.n_thread, desc='bicubic LR', total=len(rel_paths)))
    folders = ', '.join(str(t.lr_dir) for t in targets)
    print(f'{len(done)} images x{"/x".join(map(str, scales))} written to {folders}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
