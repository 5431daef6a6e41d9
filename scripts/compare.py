"""Side-by-side crops for papers: bicubic | each method's SR | GT, labelled with PSNR / SSIM, one PNG per image.

    python scripts/compare.py --gt datasets/Set5/GTmod12 --lq datasets/Set5/LRbicx4 --scale 4 \
        --model MSRResNet options/test/test_MSRResNet_x4.yml \
        --model ESRGAN options/test/test_ESRGAN_x4.yml experiments/pretrained_models/ESRGAN_x4.pth \
        --results RCAN results/RCAN/visualization/Set5 --output figures/Set5

Methods appear in the order given. ``--model LABEL OPTIONS [WEIGHTS]`` runs ``network_g`` of an option file (weights
from WEIGHTS or the file's ``path.pretrain_network_g``) on the LQ images; ``--results LABEL FOLDER`` takes SR images
already made, matched to a GT image by name (``NAME.png`` or, as test.py writes them, ``NAME_suffix.png``). Without
``--lq`` the LQ images are made from the GT by MATLAB-compatible bicubic downscaling (GT cropped to a multiple of
the scale), as ``generate_lr.py`` makes them. Bicubic is the MATLAB-compatible upscaling of the LQ image.

PSNR / SSIM are those of the whole image, as papers report them: Y channel, ``--crop-border`` pixels (default: the
scale) left out. The crop is ``--crop X Y`` (top-left corner, GT pixels) or, by default, the window where bicubic
upscaling is worst, which is where methods differ most. Each figure also shows the whole GT with the crop marked.
"""
import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from _network import load_generator
from _plotting import pyplot
from basicsr.data.data_util import paired_paths, single_paths
from basicsr.data.transforms import bicubic_downscale_uint8, check_pair_size, mod_crop
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim
from basicsr.utils.dist_util import select_device
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import img2tensor, imread, tensor2img
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.misc import scan_images


@dataclass
class Panel:
    label: str
    image: np.ndarray  # uint8 BGR, the GT's size
    psnr: float | None = None
    ssim: float | None = None


def bicubic_upscale(lq: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-compatible bicubic upscaling of a uint8 BGR image, rounded to 8 bits."""
    return tensor2img(imresize(img2tensor(lq / 255., float32=False), scale))


class ModelMethod:
    """An SR network applied to the LQ image."""

    def __init__(self, label: str, opt_path: str, weights: str | None, device: torch.device) -> None:
        self.label = label
        self.net = load_generator(opt_path, weights).net.to(device)
        self.device = device

    @torch.inference_mode()
    def run(self, name: str, lq: np.ndarray) -> np.ndarray:
        sr = self.net(img2tensor(lq / 255.).unsqueeze(0).to(self.device))
        return tensor2img(sr)


class ResultsMethod:
    """SR images already on disk, found by the GT image's name."""

    def __init__(self, label: str, folder: str) -> None:
        self.label = label
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DataError(f'--results {label}: folder {folder} not found.')
        self.stems = {Path(f).stem: f for f in scan_images(self.folder, recursive=True, full_path=True)}

    def run(self, name: str, lq: np.ndarray) -> np.ndarray:
        stems = self.stems
        if name in stems:
            return imread(stems[name])
        candidates = [f for stem, f in stems.items() if stem.startswith(f'{name}_')]
        if len(candidates) != 1:
            found = 'none' if not candidates else ', '.join(candidates)
            raise DataError(f'{self.folder}: expected one SR image named {name}.png or {name}_*.png, found {found}.')
        return imread(candidates[0])


def load_pairs(gt_dir: str, lq_dir: str | None, scale: int, filename_tmpl: str) -> list[tuple[str, np.ndarray,
                                                                                              np.ndarray]]:
    """``(name, gt, lq)`` uint8 BGR images, the GT cropped to exactly ``scale`` times the LQ size."""
    out = []
    if lq_dir is None:
        for path in single_paths(gt_dir):
            gt = mod_crop(imread(path), scale)
            out.append((Path(path).stem, gt, bicubic_downscale_uint8(gt, scale)))
        return out
    for pair in paired_paths(gt_dir, lq_dir, filename_tmpl):
        gt, lq = imread(pair['gt_path']), imread(pair['lq_path'])
        gt = gt[:lq.shape[0] * scale, :lq.shape[1] * scale]
        check_pair_size(gt.shape, lq.shape, scale, pair['gt_path'], pair['lq_path'])
        out.append((Path(pair['gt_path']).stem, gt, lq))
    return out


def worst_bicubic_window(bicubic: np.ndarray, gt: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left (x, y) of the ``size``-pixel square where bicubic upscaling differs most from the GT."""
    error = np.abs(bicubic.astype(np.float32) - gt.astype(np.float32)).mean(axis=2)
    window_sum = cv2.boxFilter(error, -1, (size, size), anchor=(0, 0), normalize=False,
                               borderType=cv2.BORDER_CONSTANT)
    valid = window_sum[:gt.shape[0] - size + 1, :gt.shape[1] - size + 1]
    y, x = np.unravel_index(np.argmax(valid), valid.shape)
    return int(x), int(y)


def score(panels: list[Panel], gt: np.ndarray, crop_border: int) -> None:
    for panel in panels:
        if panel.image.shape != gt.shape:
            raise DataError(f'{panel.label}: SR image is {panel.image.shape[1]}x{panel.image.shape[0]}, '
                            f'the GT {gt.shape[1]}x{gt.shape[0]}.')
        panel.psnr = calculate_psnr(panel.image, gt, crop_border, test_y_channel=True)
        panel.ssim = calculate_ssim(panel.image, gt, crop_border, test_y_channel=True)


def draw_figure(name: str, gt: np.ndarray, panels: list[Panel], crop: tuple[int, int], size: int,
                output: Path) -> None:
    """The whole GT with the crop marked, then the crop of every panel and of the GT, one row."""
    plt = pyplot()
    from matplotlib import patches

    x, y = crop
    tiles = [*panels, Panel('GT', gt)]
    fig, axes = plt.subplots(1, len(tiles) + 1, figsize=(2.6 * (len(tiles) + 1), 3.1))
    axes[0].imshow(gt[..., ::-1])
    axes[0].add_patch(patches.Rectangle((x - 0.5, y - 0.5), size, size, fill=False, edgecolor='red', linewidth=1.5))
    axes[0].set_title(name, fontsize=9)
    for ax, panel in zip(axes[1:], tiles):
        ax.imshow(panel.image[y:y + size, x:x + size, ::-1], interpolation='nearest')
        title = panel.label if panel.psnr is None else f'{panel.label}\n{panel.psnr:.2f} dB / {panel.ssim:.4f}'
        ax.set_title(title, fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=150)
    plt.close(fig)


class AppendMethod(argparse.Action):
    """Collects ``--model`` and ``--results`` in command-line order as ``(kind, values)``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: list[str],
                 option_string: str | None = None) -> None:
        if self.const == 'model' and len(values) not in (2, 3):
            parser.error(f"{option_string} {' '.join(values)}: expected LABEL OPTIONS [WEIGHTS].")
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), (self.const, values)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--gt', required=True, help='folder of ground-truth images')
    parser.add_argument('--lq', help='folder of LQ images (default: bicubic downscaling of the GT)')
    parser.add_argument('--filename-tmpl', default='{}', help="LQ name from the GT name, e.g. '{}x4' (default '{}')")
    parser.add_argument('--scale', type=int, required=True, help='upscaling factor')
    parser.add_argument('--model', nargs='+', action=AppendMethod, const='model', dest='methods',
                        metavar=('LABEL', 'OPTIONS'), help='LABEL OPTIONS [WEIGHTS]: a network, its option file '
                        'and weights (default: the option file\'s path.pretrain_network_g)')
    parser.add_argument('--results', nargs=2, action=AppendMethod, const='results', dest='methods',
                        metavar=('LABEL', 'FOLDER'), help='a folder of SR images')
    parser.add_argument('--output', required=True, help='folder for the PNG figures')
    parser.add_argument('--crop', nargs=2, type=int, metavar=('X', 'Y'), help='top-left corner of the crop')
    parser.add_argument('--crop-size', type=int, default=64, help='side of the square crop in GT pixels (64)')
    parser.add_argument('--crop-border', type=int, help='pixels left out of PSNR / SSIM (default: the scale)')
    return parser


def make_methods(specs: list[tuple[str, list[str]]]) -> list[ModelMethod | ResultsMethod]:
    device = select_device(torch.cuda.device_count())
    methods = []
    for kind, values in specs:
        if kind == 'results':
            methods.append(ResultsMethod(*values))
        else:
            label, opt_path, *weights = values
            methods.append(ModelMethod(label, opt_path, weights[0] if weights else None, device))
    return methods


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.methods:
        raise SystemExit('give at least one --model or --results.')
    if args.scale < 1 or args.crop_size < 1:
        raise SystemExit('--scale and --crop-size must be positive.')
    methods = make_methods(args.methods)
    crop_border = args.scale if args.crop_border is None else args.crop_border
    output = Path(args.output)
    pairs = load_pairs(args.gt, args.lq, args.scale, args.filename_tmpl)
    totals: dict[str, list[tuple[float, float]]] = {}
    for name, gt, lq in pairs:
        size = min(args.crop_size, gt.shape[0], gt.shape[1])
        bicubic = bicubic_upscale(lq, args.scale)
        panels = [Panel('Bicubic', bicubic), *(Panel(m.label, m.run(name, lq)) for m in methods)]
        score(panels, gt, crop_border)
        crop = tuple(args.crop) if args.crop else worst_bicubic_window(bicubic, gt, size)
        if not (0 <= crop[0] <= gt.shape[1] - size and 0 <= crop[1] <= gt.shape[0] - size):
            raise SystemExit(f'--crop {crop[0]} {crop[1]}: a {size}-pixel crop does not fit {name} '
                             f'({gt.shape[1]}x{gt.shape[0]}).')
        draw_figure(name, gt, panels, crop, size, output / f'{name}.png')
        for panel in panels:
            totals.setdefault(panel.label, []).append((panel.psnr, panel.ssim))
    for label, values in totals.items():
        psnr, ssim = np.mean(values, axis=0)
        print(f'{label:>12}: PSNR {psnr:.2f} dB, SSIM {ssim:.4f} (mean of {len(values)} images)')
    print(f'Wrote {len(pairs)} figure(s) to {output}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
