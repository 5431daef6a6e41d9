"""Make the documentation's pictures from a real training run, small enough to commit:

    python scripts/make_doc_figures.py --experiment experiments/demo_MSRResNet_x4 --output docs/img

writes, into ``--output``:
- ``demo_crops.png``: one validation image of the run, whole with the crop marked, then the crop of the LR input
  (nearest-neighbour enlarged), bicubic upscaling, the run's newest SR output and the GT, with PSNR / SSIM (Y);
- ``demo_curves.png``: the run's training curves from its text log (losses, validation metrics);
- ``degradation_realesrgan.png``, ``degradation_bsrgan.png``: GT squares of ``--degrade-input`` and the LQ images the
  Real-ESRGAN and BSRGAN pipelines make of them (``scripts/degrade_preview.py``, seed 0).

Each PNG is reduced to ``--colours`` palette colours so that it weighs a few tens of KB. The pictures reuse the tools
the docs describe: ``compare.py`` draws the crops, ``plot_logs.py`` the curves, ``degrade_preview.py`` the previews.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
import compare
import degrade_preview
import plot_logs
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import imread
from basicsr.utils.misc import scan_images


def newest_output(visualization: Path, name: str) -> Path:
    """The SR image of ``name`` from the last validation (``<name>_<iter>.png`` with the largest iteration)."""
    outputs = [Path(p) for p in scan_images(visualization / name, full_path=True)] if (visualization / name).is_dir() \
        else []
    iterations = {int(p.stem.rsplit('_', 1)[1]): p for p in outputs if p.stem.rsplit('_', 1)[-1].isdigit()}
    if not iterations:
        raise DataError(f'{visualization / name}: no validation outputs named {name}_<iter>.png (val.save_img: true).')
    return iterations[max(iterations)]


def crops_figure(experiment: Path, image: str | None, size: int, output: Path) -> str:
    """Draw ``demo_crops.png``; return a line saying what was drawn."""
    options_file = experiment / 'options.yml'
    if not options_file.is_file():
        raise DataError(f'--experiment: {options_file} not found (is {experiment} a training run folder?).')
    opt = yaml.safe_load(options_file.read_text(encoding='utf-8'))
    scale = int(opt['scale'])
    val = next(section for phase, section in opt['datasets'].items() if phase.startswith('val'))
    pairs = compare.load_pairs(val['dataroot_gt'], val.get('dataroot_lq'), scale, val.get('filename_tmpl', '{}'))
    names = [name for name, _, _ in pairs]
    if image is not None and image not in names:
        raise DataError(f"--image: {image} is not a validation image of {experiment} ({', '.join(names)}).")
    name, gt, lq = pairs[names.index(image) if image else 0]
    sr_path = newest_output(experiment / 'visualization', name)
    lr_enlarged = np.repeat(np.repeat(lq, scale, axis=0), scale, axis=1)
    bicubic = compare.bicubic_upscale(lq, scale)
    panels = [compare.Panel('LR (nearest)', lr_enlarged), compare.Panel('bicubic', bicubic),
              compare.Panel(f'SR ({sr_path.stem.rsplit("_", 1)[1]} iterations)', imread(str(sr_path)))]
    compare.score(panels[1:], gt, scale)
    crop = compare.worst_bicubic_window(bicubic, gt, size)
    compare.draw_figure(name, gt, panels, crop, size, output)
    return f'{output}: {name}, SR from {sr_path}'


def curves_figure(experiment: Path, output: Path) -> str:
    run = plot_logs.load_run(str(experiment), 'log')
    plot_logs.plot([run], output, smoothing=0.6)
    return f'{output}: curves of {experiment}'


def degradation_figures(hr: Path, folder: Path, crop: int) -> list[str]:
    done = []
    with tempfile.TemporaryDirectory() as scratch:  # degrade_preview writes a JSON beside its PNG: not for docs
        for pipeline in ('realesrgan', 'bsrgan'):
            preview = Path(scratch) / f'{pipeline}.png'
            degrade_preview.main(['--input', str(hr), '--output', str(preview), '--pipeline', pipeline,
                                  '--num', '3', '--crop', str(crop), '--seed', '0', '--device', 'cpu'])
            target = folder / f'degradation_{pipeline}.png'
            Image.open(preview).save(target)
            done.append(f'{target}: {pipeline} pipeline on {hr}')
    return done


def shrink(path: Path, colours: int) -> int:
    """Re-save ``path`` with an adaptive palette of ``colours`` colours; return its size in bytes."""
    with Image.open(path) as image:
        small = image.convert('RGB').quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path.stat().st_size


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--experiment', type=Path, required=True,
                        help='a training run folder (options.yml, train_*.log, visualization/)')
    parser.add_argument('--output', type=Path, default=Path('docs/img'), help='folder for the PNGs (docs/img)')
    parser.add_argument('--image', help='validation image to crop (default: the first)')
    parser.add_argument('--crop', type=int, default=48, help='side of the crop in GT pixels (48)')
    parser.add_argument('--degrade-input', type=Path, default=Path('datasets/demo/train/HR'),
                        help='GT images for the degradation previews (datasets/demo/train/HR)')
    parser.add_argument('--degrade-crop', type=int, default=128, help='GT square of the previews (128)')
    parser.add_argument('--colours', type=int, default=128, help='palette size of the written PNGs (128)')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 2 <= args.colours <= 256:
        raise SystemExit(f'--colours: must be in [2, 256], got {args.colours}.')
    args.output.mkdir(parents=True, exist_ok=True)
    lines = [crops_figure(args.experiment, args.image, args.crop, args.output / 'demo_crops.png'),
             curves_figure(args.experiment, args.output / 'demo_curves.png'),
             *degradation_figures(args.degrade_input, args.output, args.degrade_crop)]
    for line in lines:
        path = Path(line.split(': ', 1)[0])
        print(f'{line} ({shrink(path, args.colours) / 1024:.0f} KB)')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
