"""Crop large images into overlapping sub-images, as BasicSR prepares DIV2K for fast training I/O.

    python scripts/extract_subimages.py --input DIV2K_train_HR --output DIV2K_train_HR_sub
    python scripts/extract_subimages.py --input DIV2K_train_LR_bicubic/X4 --output DIV2K_train_LR_bicubic/X4_sub \\
        --crop-size 120 --step 60 --thresh-size 0

Crops of ``crop-size`` start every ``step`` pixels in both directions; when the remainder after the last regular
crop is more than ``thresh-size`` pixels, one more crop is added flush with the border. Sub-images are named
``{stem}_s{index:03d}{ext}``, index from 1 in row-major order. Running it on HR and on the xS LR images with
crop, step and threshold divided by S gives sub-images that correspond pixel for pixel (HR sizes must be multiples
of S, i.e. mod-cropped).
"""
import argparse
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import cv2

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.utils.img_util import imread, imwrite
from basicsr.data.subimages import crop_positions, subimages


@dataclass(frozen=True)
class CropSettings:
    input_dir: Path
    output_dir: Path
    crop_size: int
    step: int
    thresh_size: int
    compress_level: int


def extract_one(rel_path: str, settings: CropSettings) -> tuple[str, int, tuple[int, int]]:
    """Write the sub-images of one image; returns its relative path, the number written (0: too small) and its
    (height, width)."""
    img = imread(settings.input_dir / rel_path, flag='unchanged')
    crops = subimages(img, settings.crop_size, settings.step, settings.thresh_size)
    rel = Path(rel_path)
    params = [cv2.IMWRITE_PNG_COMPRESSION, settings.compress_level] if rel.suffix.lower() == '.png' else []
    for index, crop in enumerate(crops, 1):
        imwrite(crop, settings.output_dir / rel.parent / f'{rel.stem}_s{index:03d}{rel.suffix}', params)
    return rel_path, len(crops), img.shape[:2]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--input', required=True, help='folder of large images (scanned recursively)')
    parser.add_argument('--output', required=True, help='folder for the sub-images (sub-folders are kept)')
    parser.add_argument('--crop-size', type=int, default=480)
    parser.add_argument('--step', type=int, default=240)
    parser.add_argument('--thresh-size', type=int, default=0,
                        help='a remainder of at most this many pixels gets no crop of its own')
    parser.add_argument('--n-thread', type=int, default=min(8, os.cpu_count() or 1), help='worker processes')
    parser.add_argument('--compress-level', type=int, default=3, choices=range(10), metavar='0-9',
                        help='PNG compression of the sub-images')
    parser.add_argument('--overwrite', action='store_true', help='write into an existing non-empty output folder')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    input_dir, output_dir = Path(args.input), Path(args.output)
    rel_paths = _bootstrap.input_images(input_dir)
    if output_dir.is_dir() and any(output_dir.iterdir()) and not args.overwrite:
        raise SystemExit(f'--output: folder {output_dir} exists and is not empty; pass --overwrite to write into it.')
    try:
        crop_positions(args.crop_size, args.crop_size, args.step, args.thresh_size)  # validates the numbers early
    except ValueError as err:
        raise SystemExit(f'--crop-size/--step/--thresh-size: {err}') from err
    settings = CropSettings(input_dir, output_dir, args.crop_size, args.step, args.thresh_size, args.compress_level)
    created = not output_dir.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    work = functools.partial(extract_one, settings=settings)
    results = list(_bootstrap.parallel_map(work, rel_paths, args.n_thread, desc='extract sub-images',
                                           total=len(rel_paths)))
    counts = {path: count for path, count, _ in results}
    if not any(counts.values()):
        path, _, (height, width) = max(results, key=lambda result: min(result[2]))
        if created:
            output_dir.rmdir()
        raise SystemExit(f'--crop-size {args.crop_size}: larger than every image (the largest, {path}, is '
                         f'{width}x{height}), so no sub-image was written; use --crop-size {min(height, width)} '
                         'or less.')
    too_small = sorted(path for path, count in counts.items() if count == 0)
    print(f'{output_dir}: {sum(counts.values())} sub-images from {len(counts)} images.')
    if too_small:
        print(f'{len(too_small)} images narrower or shorter than {args.crop_size} pixels gave no sub-image: '
              + ', '.join(too_small))
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
