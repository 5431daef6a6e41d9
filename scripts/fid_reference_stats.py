"""Write the FID reference statistics of a folder of images: the mean and covariance of their Inception features.

    python scripts/fid_reference_stats.py --input datasets/DIV2K/DIV2K_valid_HR --output stats/div2k_valid.npz

The ``.npz`` holds ``mu`` (2048,), ``sigma`` (2048, 2048) and ``count`` (images), pytorch-fid's keys, so the file
serves as ``val.metrics.<name>.reference_stats`` of ``calculate_fid`` (and pytorch-fid reads it too). Features are
those of the metric: pytorch-fid's Inception (``pt_inception-2015-12-05-6726825d.pth`` from the torch hub cache or
``--inception-weights``) on each image resized to 299x299. The file is written through a temporary file, so an
interrupted run leaves no partial statistics behind.
"""
import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.metrics.fid import feature_statistics, inception_features, save_reference_stats
from basicsr.utils.img_util import img2tensor, imread


def folder_features(folder: Path, rel_paths: list[str], device: torch.device, pretrained: bool,
                    weights: str | None) -> np.ndarray:
    """Inception features (N, 2048) of the images, read as 8-bit RGB in [0, 1], one at a time (any sizes)."""
    rows = []
    for rel_path in tqdm(rel_paths, unit='img', desc='FID features'):
        image = img2tensor(imread(folder / rel_path).astype(np.float32) / 255.).unsqueeze(0).to(device)
        rows.append(inception_features(image, pretrained, weights))
    return np.concatenate(rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--input', required=True, help='folder of reference images (scanned recursively)')
    parser.add_argument('--output', required=True, help='the .npz file to write')
    parser.add_argument('--inception-weights', help='pt_inception-2015-12-05-6726825d.pth, if not in the torch hub '
                                                    'cache')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='device of the network (default: cuda when available)')
    parser.add_argument('--random-weights', action='store_true',
                        help='a random Inception instead of the FID one: for tests and demos only, the statistics '
                             'do not match any published FID')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --output file')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    output = Path(args.output).expanduser()
    _bootstrap.refuse_existing_output(output, args.overwrite)
    if args.random_weights and args.inception_weights:
        raise SystemExit('--random-weights and --inception-weights exclude each other.')
    folder = Path(args.input).expanduser()
    rel_paths = _bootstrap.input_images(folder)
    if len(rel_paths) < 2:
        raise SystemExit(f'--input: FID statistics need at least 2 images, {folder} has {len(rel_paths)}.')
    features = folder_features(folder, rel_paths, torch.device(args.device), not args.random_weights,
                               args.inception_weights)
    mu, sigma = feature_statistics(features)
    save_reference_stats(output, mu, sigma, len(features))
    print(f'FID statistics of {len(features)} images written to {output}'
          f'{" (random Inception weights: for tests only)" if args.random_weights else ""}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
