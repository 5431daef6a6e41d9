"""Super-resolve a folder of images (or one image) with a network file: no option file needed.

    python scripts/inference.py --model experiments/NAME/models/net_g_latest.pth --input photos --output photos_x4
    python scripts/inference.py --model RealESRGAN_x4plus.pth --input big.png --output out --tile 256 --fp16

``--model`` is a network file saved by basicsr training (it records its network and scale) or, when spandrel is
installed, a file from elsewhere that spandrel recognises (BasicSR, Real-ESRGAN and OpenModelDB releases: ESRGAN,
Real-ESRGAN Compact, SwinIR, HAT, SPAN...). Images keep their relative paths, stems and formats under ``--output``
(``--suffix`` is appended to the stem); an alpha channel is upscaled alongside (bilinear), 16-bit images stay 16-bit,
grey images stay grey. Existing outputs are refused unless ``--overwrite`` is given; an input is never replaced.

``--tile N`` runs the network on N x N pieces of the input (with ``--tile-pad`` pixels of context each) to bound
memory; ``--ensemble`` averages the 8 flips/rotations (8x slower, a little more faithful); ``--fp16`` / ``--bf16``
compute in half precision (for GPUs); ``--outscale S`` resizes the result to S times the input (Lanczos) when S differs
from the network's scale.
"""
import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.archs.network_record import LoadedNetwork, load_network_file
from basicsr.models.inference import super_resolve
from basicsr.utils.dist_util import select_device
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import imdecode, imwrite


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', required=True, help='network file (.pth or .safetensors)')
    parser.add_argument('--input', required=True, help='an image or a folder of images (scanned recursively)')
    parser.add_argument('--output', required=True, help='folder for the results')
    parser.add_argument('--tile', type=int, default=0, help='tile size in input pixels (0: whole images)')
    parser.add_argument('--tile-pad', type=int, default=10, help='context pixels around each tile')
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument('--fp16', action='store_true', help='compute in float16 (autocast)')
    precision.add_argument('--bf16', action='store_true', help='compute in bfloat16 (autocast)')
    parser.add_argument('--ensemble', action='store_true', help='x8 self-ensemble (flips and rotations)')
    parser.add_argument('--outscale', type=float, help="final scale relative to the input (default: the network's)")
    parser.add_argument('--suffix', default='', help="appended to each output stem, e.g. '_x4'")
    parser.add_argument('--param-key', default='params_ema', choices=['params_ema', 'params'],
                        help='which weights of a file holding both (the other when only one is there)')
    parser.add_argument('--cpu', action='store_true', help='run on the CPU even when a GPU is present')
    parser.add_argument('--overwrite', action='store_true', help='replace existing output images')
    return parser


def input_files(path: Path) -> tuple[Path, list[str]]:
    """The folder the inputs are relative to and their relative paths (one image or a folder's images)."""
    if path.is_file():
        return path.parent, [path.name]
    if path.is_dir():
        return path, _bootstrap.input_images(path)
    raise SystemExit(f'--input: {path} not found.')


def output_path(output_dir: Path, rel_path: str, suffix: str) -> Path:
    rel = Path(rel_path)
    return output_dir / rel.parent / f'{rel.stem}{suffix}{rel.suffix}'


def check_outputs(pairs: list[tuple[Path, Path]], overwrite: bool) -> None:
    """Refuse outputs that are inputs, and existing outputs without ``--overwrite`` (before any work is done)."""
    for src, dst in pairs:
        if dst.resolve() == src.resolve():
            raise SystemExit(f'--output: {dst} would replace its input; choose another folder or a --suffix.')
    existing = [dst for _, dst in pairs if dst.exists()]
    if existing:
        _bootstrap.refuse_existing_output(existing[0], overwrite)


def check_options(args: argparse.Namespace, loaded: LoadedNetwork) -> str:
    """The autocast precision to use ('none', 'fp16' or 'bf16'); exits on values that cannot work."""
    if args.tile < 0 or args.tile_pad < 0:
        raise SystemExit(f'--tile/--tile-pad: must be >= 0, got {args.tile} and {args.tile_pad}.')
    if args.outscale is not None and args.outscale <= 0:
        raise SystemExit(f'--outscale: must be positive, got {args.outscale}.')
    if args.fp16 and not loaded.supports_fp16:
        raise SystemExit(f'--fp16: {loaded.name} does not work in float16 (spandrel says so); use --bf16 or neither.')
    if args.bf16 and not loaded.supports_bf16:
        raise SystemExit(f'--bf16: {loaded.name} does not work in bfloat16 (spandrel says so); use --fp16 or neither.')
    return 'fp16' if args.fp16 else 'bf16' if args.bf16 else 'none'


def split_image(img: np.ndarray, in_channels: int) -> tuple[np.ndarray, np.ndarray | None, float]:
    """The network input (float32 HWC in [0, 1], RGB or grey), the alpha channel (or None) and the pixel maximum."""
    peak = float(np.iinfo(img.dtype).max) if img.dtype.kind == 'u' else 1.0
    alpha = img[..., -1] if img.ndim == 3 and img.shape[2] in (2, 4) else None
    colour = img[..., :-1] if alpha is not None else img
    colour = colour[..., 0] if colour.ndim == 3 and colour.shape[2] == 1 else colour
    if in_channels == 1:
        colour = colour if colour.ndim == 2 else cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
        colour = colour[..., None]
    else:
        colour = cv2.cvtColor(colour, cv2.COLOR_GRAY2RGB) if colour.ndim == 2 else cv2.cvtColor(colour,
                                                                                                 cv2.COLOR_BGR2RGB)
    return colour.astype(np.float32) / peak, alpha, peak


def merge_image(rgb: np.ndarray, alpha: np.ndarray | None, grey: bool, dtype: np.dtype, peak: float) -> np.ndarray:
    """The output image in the input's layout: BGR (or grey when the input was), alpha appended, input's bit depth."""
    if rgb.shape[2] == 1:
        out = rgb[..., 0]
    else:
        out = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY if grey else cv2.COLOR_RGB2BGR)
    out = np.round(np.clip(out, 0, 1) * peak).astype(dtype)
    if alpha is not None:
        alpha = cv2.resize(alpha, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR).astype(dtype)
        out = np.dstack([out if out.ndim == 3 else out[..., None], alpha])
    return out


def upscale_one(img: np.ndarray, loaded: LoadedNetwork, device: torch.device, args: argparse.Namespace,
                amp: str) -> np.ndarray:
    grey = img.ndim == 2 or img.shape[2] in (1, 2)
    colour, alpha, peak = split_image(img, loaded.in_channels)
    lq = torch.from_numpy(np.ascontiguousarray(colour.transpose(2, 0, 1)))[None].to(device)
    with torch.inference_mode():
        sr = super_resolve(loaded.net, lq, args.tile or None, args.tile_pad, args.ensemble, amp)
    rgb = sr[0].float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)
    if args.outscale is not None and args.outscale != loaded.scale:
        size = (round(img.shape[1] * args.outscale), round(img.shape[0] * args.outscale))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_LANCZOS4)
        rgb = rgb[..., None] if rgb.ndim == 2 else rgb
    return merge_image(rgb, alpha, grey, img.dtype, peak)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    input_dir, rel_paths = input_files(Path(args.input))
    output_dir = Path(args.output)
    pairs = [(input_dir / rel, output_path(output_dir, rel, args.suffix)) for rel in rel_paths]
    check_outputs(pairs, args.overwrite)
    loaded = load_network_file(args.model, args.param_key)
    amp = check_options(args, loaded)
    device = select_device(0 if args.cpu else torch.cuda.device_count())
    loaded.net.to(device)
    print(f'{args.model}: {loaded.name} x{loaded.scale} ({loaded.source}), on {device}.')
    for src, dst in tqdm(pairs, unit='img', desc='inference', disable=None):  # no bar in redirected output
        img = imdecode(src.read_bytes(), 'unchanged', str(src))  # keeps 16-bit pixels (imread rounds them)
        if img.dtype not in (np.uint8, np.uint16):
            raise DataError(f'{src}: pixel type {img.dtype} is not supported (expected 8- or 16-bit).')
        imwrite(upscale_one(img, loaded, device, args, amp), dst)
    print(f'{len(pairs)} images written to {output_dir}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
