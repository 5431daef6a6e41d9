"""Preview a synthetic degradation: a grid of GT | degraded LQ samples, and the parameters drawn for each.

    python scripts/degrade_preview.py --input datasets/DF2K/HR -opt options/train_realesrgan_x4plus.yml \
        --output preview.png
    python scripts/degrade_preview.py --input datasets/demo/train/HR --pipeline bsrgan --crop 192 --num 4 \
        --output bsrgan.png

Samples are made as training makes them: ``RealESRGANDataset`` crops a ``crop_pad_size`` square of a GT image and
draws its kernels (keys of the option file's ``datasets.train`` section, or the section given as the whole file);
the pipeline named by ``--pipeline`` (default: the option file's ``degradation``, else ``realesrgan``) degrades the
batch with the option file's top-level keys (:func:`basicsr.data.degradation_pipeline.build_degradation`). As
Real-ESRGAN's recipe does, the GT is unsharp-masked before the Real-ESRGAN pipeline (``--no-usm``: not).

Each row of the PNG is one sample: the GT square, then the LQ enlarged (nearest neighbour) to the same size. The JSON
written beside it (same name, ``.json``) lists per row the GT file, the kernels drawn by the dataset and the values
drawn by the pipeline, and the batch-wide choices (resize factors and modes, order of operations). Without an option
file, the published Real-ESRGAN values are used. The same ``--seed`` gives the same preview.
"""
import argparse
import json
import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import default_collate

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.data.degradation_pipeline import DEGRADATIONS, build_degradation
from basicsr.data.realesrgan_dataset import RealESRGANDataset
from basicsr.utils.checkpoint import atomic_write
from basicsr.utils.dist_util import select_device
from basicsr.utils.img_process_util import USMSharp
from basicsr.utils.img_util import tensor2img
from basicsr.config.load import load_yaml
from basicsr.utils.registry import accepted_arguments, check_arguments

KERNEL_KEYS = ('kernel1', 'kernel2', 'sinc_kernel')
GAP, HEADER = 4, 24  # pixels between panels, and above them for the labels
LABEL_FONT, LABEL_FONT_SCALE, LABEL_MARGIN = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 4


def read_options(path: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The top level of an option file and its training dataset section (a file that is itself a dataset section,
    with ``type`` and no ``datasets``, gives both)."""
    if path is None:
        return {}, {}
    if not path.is_file():
        raise SystemExit(f'-opt: {path} not found.')
    opt, _ = load_yaml(path)
    opt = opt or {}
    if 'datasets' not in opt and 'type' in opt:
        return opt, opt
    return opt, (opt.get('datasets') or {}).get('train') or {}


def build_dataset(section: dict[str, Any], args: argparse.Namespace, scale: int) -> RealESRGANDataset:
    """RealESRGANDataset from the keys of ``section`` it takes; ``--input`` replaces the GT root (and its
    meta-info list), ``--crop`` the square size."""
    accepted = set(accepted_arguments(RealESRGANDataset)) - {'phase', 'scale'}
    kwargs = {k: v for k, v in section.items() if k in accepted}
    if args.input is not None:
        kwargs.update(dataroot_gt=str(args.input), io_backend={'type': 'lmdb' if args.input.suffix == '.lmdb'
                                                               else 'disk'})
        kwargs.pop('meta_info', None)
    if 'dataroot_gt' not in kwargs:
        raise SystemExit('--input: needed (the option file names no datasets.train.dataroot_gt).')
    if args.crop is not None:
        kwargs['crop_pad_size'] = args.crop
        kwargs.pop('gt_size', None)
    kwargs = check_arguments(RealESRGANDataset, kwargs, 'datasets.train')
    return RealESRGANDataset(**kwargs, phase='train', scale=scale)


def split_log(log: dict[str, Any], count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The pipeline's log as batch-wide values and one dict of values per sample."""
    batch: dict[str, Any] = {}
    samples: list[dict[str, Any]] = [{} for _ in range(count)]
    for step, entry in log.items():
        values = {k: v for k, v in entry.items() if k != 'per_sample'}
        if values:
            batch[step] = values
        for key, per_sample in entry.get('per_sample', {}).items():
            for i in range(count):
                samples[i].setdefault(step, {})[key] = per_sample[i]
    return batch, samples


def grid_image(gt: torch.Tensor, lq: torch.Tensor, scale: int) -> np.ndarray:
    """Rows of [GT | LQ enlarged by nearest neighbour], labelled, as a uint8 BGR image."""
    gt_imgs = tensor2img(list(gt.cpu()))
    lq_imgs = [cv2.resize(img, (img.shape[1] * scale, img.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
               for img in tensor2img(list(lq.cpu()))]
    h, w = gt_imgs[0].shape[:2]
    grid = np.full((HEADER + len(gt_imgs) * (h + GAP), 2 * w + GAP, 3), 255, np.uint8)
    for i, (a, b) in enumerate(zip(gt_imgs, lq_imgs)):
        top = HEADER + i * (h + GAP)
        grid[top:top + h, :w] = a
        grid[top:top + h, w + GAP:] = b[:h, :w]
    for x, labels in ((0, ['GT']), (w + GAP, [f'LQ (x{scale} nearest)', f'LQ x{scale}'])):
        put_label(grid, labels, x, w)
    return grid


def put_label(grid: np.ndarray, labels: list[str], x: int, width: int) -> None:
    """Write the first of ``labels`` that fits a ``width``-pixel panel in the header (the last one, shrunk, if none
    does), so no label runs past its panel or the image."""
    room = width - 2 * LABEL_MARGIN
    font_scale = LABEL_FONT_SCALE
    text = next((t for t in labels if _text_width(t, font_scale) <= room), labels[-1])
    if _text_width(text, font_scale) > room:
        font_scale *= max(room, 1) / _text_width(text, font_scale)
    cv2.putText(grid, text, (x + LABEL_MARGIN, HEADER - 7), LABEL_FONT, font_scale, (0, 0, 0), 1, cv2.LINE_AA)


def _text_width(text: str, font_scale: float) -> int:
    return cv2.getTextSize(text, LABEL_FONT, font_scale, 1)[0][0]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('-opt', '--options', type=Path, help='option file (or a dataset section as a file)')
    parser.add_argument('--input', type=Path, help='folder (or .lmdb) of GT images; default: datasets.train')
    parser.add_argument('--output', type=Path, required=True, help='PNG to write (the JSON goes beside it)')
    parser.add_argument('--pipeline', choices=sorted(DEGRADATIONS), help="default: the option file's 'degradation'")
    parser.add_argument('--num', type=int, default=6, help='samples (rows)')
    parser.add_argument('--crop', type=int, help='GT square size (crop_pad_size); default: the option file, 400')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-usm', action='store_true', help='do not sharpen the GT before the Real-ESRGAN pipeline')
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.num < 1:
        raise SystemExit('--num: must be at least 1.')
    opt, section = read_options(args.options)
    scale = int(opt.get('scale', 4))
    name = args.pipeline or opt.get('degradation', 'realesrgan')
    pipeline = build_degradation(name, {**opt, 'scale': scale})
    dataset = build_dataset(section, args, scale)

    seeds = random.Random(args.seed)
    keys = [(i % len(dataset), seeds.getrandbits(63)) for i in range(args.num)]
    kernel_params = [{} for _ in keys]
    batch = default_collate([dataset.sample(key, params) for key, params in zip(keys, kernel_params)])
    device = select_device(0 if args.device == 'cpu' else int(args.device == 'cuda' or torch.cuda.is_available()))
    pipeline.to(device)
    gt = batch['gt'].to(device)
    usm = name == 'realesrgan' and not args.no_usm
    source = USMSharp().to(device)(gt) if usm else gt
    log: dict[str, Any] = {}
    with torch.no_grad():
        lq = pipeline(source, torch.Generator().manual_seed(args.seed), {k: batch[k] for k in KERNEL_KEYS}, log)

    ok, png = cv2.imencode('.png', grid_image(gt, lq, scale))
    if not ok:
        raise SystemExit(f'--output: OpenCV could not encode {args.output} as PNG.')
    batch_values, sample_values = split_log(log, len(keys))
    report = {'options': str(args.options) if args.options else None, 'pipeline': name, 'scale': scale,
              'seed': args.seed, 'usm_sharpened_gt': usm, 'device': str(device), 'batch': batch_values,
              'rows': [{'gt_path': path, 'kernels': params, 'pipeline': values}
                       for path, params, values in zip(batch['gt_path'], kernel_params, sample_values)]}
    atomic_write(args.output, lambda file: file.write(png.tobytes()))
    json_path = args.output.with_suffix('.json')
    atomic_write(json_path, lambda file: file.write(json.dumps(report, indent=1).encode()))
    print(f'Wrote {args.output} ({len(keys)} samples, {name} pipeline) and {json_path}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
