"""Fit NIQE's pristine model from a folder of undistorted images, as the MATLAB release's ``estimatemodelparam.m``.

    python scripts/fit_niqe_model.py --input pristine/ --output ~/.cache/basicsr/niqe_pris_params.npz

Each image becomes one [0, 255] channel (``--convert-to``: ``gray`` as the release fitted its model, or ``y``), is
cut into 96x96 blocks, and the blocks sharper than ``--sharpness-threshold`` times the image's sharpest one give
their 36 features. Their mean and covariance are written with the Gaussian window, under the keys of BasicSR's
``niqe_pris_params.npz``, so the file serves wherever that one does (``val.metrics.<name>.params_path``,
``$BASICSR_NIQE_PARAMS`` or one of the default places). The authors fitted theirs on 125 natural images of
sizes 480x320 to 1280x720; use some tens of images at least (36 features need well over 36 blocks).
"""
import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.metrics.niqe import BLOCK_SIZE, SHARPNESS_THRESHOLD, fit_niqe_model, prepare_image
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import imread
from basicsr.utils.misc import scan_images


def read_image(path: str, crop_border: int, convert_to: str) -> np.ndarray:
    """The image as NIQE sees it; one smaller than a block is a DataError naming it."""
    img = prepare_image(imread(path), crop_border, 'HWC', convert_to)
    if min(img.shape) < BLOCK_SIZE:
        raise DataError(f'{path}: {img.shape[0]}x{img.shape[1]} pixels (border cropped) is smaller than one '
                        f'{BLOCK_SIZE}x{BLOCK_SIZE} NIQE block.')
    return img


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--input', required=True, help='folder of pristine images (scanned recursively)')
    parser.add_argument('--output', required=True, help='the .npz file to write')
    parser.add_argument('--convert-to', choices=('gray', 'y'), default='gray',
                        help='channel the features are computed on (default: gray, as the release)')
    parser.add_argument('--crop-border', type=int, default=0, help='pixels dropped at each edge first')
    parser.add_argument('--sharpness-threshold', type=float, default=SHARPNESS_THRESHOLD,
                        help='keep blocks sharper than this fraction of the sharpest block of their image')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --output file')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    output = Path(args.output).expanduser()
    _bootstrap.refuse_existing_output(output, args.overwrite)
    if not 0 <= args.sharpness_threshold < 1:
        raise SystemExit(f'--sharpness-threshold: must be in [0, 1), got {args.sharpness_threshold}.')
    paths = scan_images(args.input, recursive=True, full_path=True)
    if not paths:
        raise SystemExit(f'--input: no images in {args.input}.')
    images = (read_image(path, args.crop_border, args.convert_to) for path in tqdm(paths, unit='img', desc='NIQE'))
    fit_niqe_model(images, args.sharpness_threshold).save(output)
    print(f'NIQE model of {len(paths)} images written to {output}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
