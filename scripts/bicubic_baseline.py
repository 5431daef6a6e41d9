"""Bicubic-interpolation baseline PSNR / SSIM of benchmark sets (Y channel, border of ``scale`` pixels cropped).

    python scripts/bicubic_baseline.py --data ../shared/data --sets Set5 Set14 --scales 2 3 4 [--json OUT]

Each ``DATA/SET/HR`` image is cropped to a multiple of the scale, downscaled with the project's MATLAB-compatible
``imresize``, upscaled again with it, rounded to 8 bits as ``tensor2img`` does for SR outputs, and compared with
the HR image by ``calculate_psnr`` / ``calculate_ssim``. The LR image stays in float, which is how the reference
figures of ``data/README.md`` (BasicSR 1.4.2) were made; ``--quantize-lr`` rounds it to 8 bits first, as an LR
image saved to PNG would be (a few hundredths of a dB lower on Set14).
"""
import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.data.transforms import mod_crop
from basicsr.metrics import quantize_tensor
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import img2tensor, imread, tensor2img
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.misc import scan_images


def bicubic_metrics(hr: np.ndarray, scale: int, quantize_lr: bool = False) -> tuple[float, float]:
    """(PSNR, SSIM) on Y of the bicubic down-then-up reconstruction of a uint8 BGR HR image."""
    hr = mod_crop(hr, scale)
    # float64, so that which way the final 8-bit rounding goes does not depend on float32 error
    lr = imresize(img2tensor(hr / 255., float32=False), 1 / scale)
    if quantize_lr:
        lr = quantize_tensor(lr)
    sr = tensor2img(imresize(lr, scale))
    return (calculate_psnr(sr, hr, scale, test_y_channel=True), calculate_ssim(sr, hr, scale, test_y_channel=True))


def evaluate_set(folder: Path, name: str, scales: list[int], quantize_lr: bool) -> dict[int, dict[str, float]]:
    """Mean PSNR / SSIM of the images in ``folder`` for every scale."""
    paths = scan_images(folder, full_path=True)
    if not paths:
        raise DataError(f'{folder}: no images found.')
    images = [imread(path) for path in paths]
    results = {}
    for scale in scales:
        scores = [bicubic_metrics(img, scale, quantize_lr) for img in tqdm(images, desc=f'{name} x{scale}',
                                                                          unit='img', leave=False)]
        psnr, ssim = np.mean(scores, axis=0)
        results[scale] = {'psnr': float(psnr), 'ssim': float(ssim), 'images': len(images)}
    return results


def format_table(results: dict[str, dict[int, dict[str, float]]], scales: list[int]) -> str:
    """Markdown table, one row per set, ``PSNR / SSIM`` per scale (2 and 4 decimals, as papers print them)."""
    lines = ['| set | ' + ' | '.join(f'x{s}' for s in scales) + ' |', '| --- |' + ' --- |' * len(scales)]
    for name, per_scale in results.items():
        cells = [f"{per_scale[s]['psnr']:.2f} / {per_scale[s]['ssim']:.4f}" for s in scales]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', required=True, help='folder holding one SET/HR folder per benchmark set')
    parser.add_argument('--sets', nargs='+', default=['Set5', 'Set14'], help='benchmark sets (default: Set5 Set14)')
    parser.add_argument('--scales', type=int, nargs='+', default=[2, 3, 4], help='scales (default: 2 3 4)')
    parser.add_argument('--quantize-lr', action='store_true', help='round the LR image to 8 bits before upscaling')
    parser.add_argument('--json', metavar='OUT', help='also write the figures (full precision) to this JSON file')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if any(s < 1 for s in args.scales):
        raise SystemExit(f'--scales: scales must be positive integers, got {args.scales}.')
    results = {}
    for name in args.sets:
        folder = Path(args.data) / name / 'HR'
        if not folder.is_dir():
            raise SystemExit(f'--sets: folder {folder} not found (expected DATA/SET/HR).')
        results[name] = evaluate_set(folder, name, args.scales, args.quantize_lr)
    print(format_table(results, args.scales))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
