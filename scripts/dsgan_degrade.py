"""Apply a trained DSGAN generator to HR images: a paired (HR, realistically degraded LR) training set for SR.

    python scripts/dsgan_degrade.py --opt options/dsgan_x4.yml \
        --weights experiments/DSGAN_x4/models/net_g_64800.pth --input datasets/DF2K/DF2K_train_HR \
        --output datasets/DF2K_dsgan

For each image x of ``--input`` (scanned recursively): HR = x cropped to a multiple of the scale, LR =
G(bicubic(HR, 1/scale)), the bicubic image rounded to 8 bits as in training. With ``--cleanup-factor F`` the HR is
first bicubic-downscaled by F, which removes the source's own noise and artefacts (the paper's "TDSR" sets; F = 2).
Writes ``OUTPUT/HR/<name>.png`` and ``OUTPUT/LR/<name>.png`` under the same relative names, which
PairedImageDataset reads as they are (``dataroot_gt: OUTPUT/HR``, ``dataroot_lq: OUTPUT/LR``).

The network is ``network_g`` of ``--opt`` and the scale its ``scale``; the weights are ``--weights`` or the file's
``path.pretrain_network_g``, ``--param-key`` choosing ``params``/``params_ema`` (``model_g_state_dict`` for the
official DSGAN ``.tar`` files). The set is written to a temporary folder beside ``OUTPUT`` and renamed when
complete, so an interrupted run leaves no partial set.
"""
import argparse
import functools
from pathlib import Path

import numpy as np
import torch
from torch import nn

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from _network import load_generator
from basicsr.data.transforms import bicubic_lq, mod_crop, quantize
from basicsr.models.inference import super_resolve
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import img2tensor, imread, imwrite, tensor2img
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.misc import folder_written_atomically


def degrade_one(rel_path: str, input_dir: Path, output_dir: Path, net: nn.Module, scale: int, cleanup_factor: float,
                device: torch.device, tile: int | None) -> str:
    """Write the HR image and its generated LR image for one input image."""
    src = input_dir / rel_path
    hr = imread(src, float32=True)
    if cleanup_factor > 1:
        hr = quantize(imresize(hr, 1 / cleanup_factor))
    hr = mod_crop(hr, scale)
    if hr.shape[0] == 0 or hr.shape[1] == 0:
        raise DataError(f'{src}: too small for scale {scale} (after a clean-up factor of {cleanup_factor:g}).')
    lq = img2tensor(bicubic_lq(hr, scale)).unsqueeze(0).to(device)
    with torch.inference_mode():
        lr = super_resolve(net, lq, tile)
    name = Path(rel_path).with_suffix('.png')
    imwrite((hr * 255.).round().astype(np.uint8), output_dir / 'HR' / name)
    imwrite(tensor2img(lr), output_dir / 'LR' / name)
    return rel_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--opt', required=True, help='option file with the DSGAN network_g (and scale)')
    parser.add_argument('--weights', help='generator checkpoint (default: path.pretrain_network_g of --opt)')
    parser.add_argument('--param-key', help="weights entry: params, params_ema or model_g_state_dict")
    parser.add_argument('--input', required=True, help='folder of HR images (scanned recursively)')
    parser.add_argument('--output', required=True, help='folder to create, with HR/ and LR/ inside')
    parser.add_argument('--cleanup-factor', type=float, default=1.0,
                        help='bicubic-downscale the HR images by this factor first (default 1: no clean-up)')
    parser.add_argument('--tile', type=int, help='run the generator on tiles of this many LR pixels')
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto',
                        help='auto: the GPU when there is one')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing output folder')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    input_dir, output_dir = Path(args.input), Path(args.output)
    rel_paths = _bootstrap.input_images(input_dir)
    _bootstrap.refuse_existing_output(output_dir, args.overwrite)
    if args.cleanup_factor < 1:
        raise SystemExit(f'--cleanup-factor: must be >= 1, got {args.cleanup_factor:g}.')
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is available.')
    device = torch.device('cuda' if args.device != 'cpu' and torch.cuda.is_available() else 'cpu')
    generator = load_generator(args.opt, args.weights, args.param_key)
    with folder_written_atomically(output_dir) as tmp:
        work = functools.partial(degrade_one, input_dir=input_dir, output_dir=tmp, net=generator.net.to(device),
                                 scale=generator.scale, cleanup_factor=args.cleanup_factor, device=device,
                                 tile=args.tile)
        list(_bootstrap.parallel_map(work, rel_paths, 1, desc='DSGAN degradation', total=len(rel_paths)))
    print(f'{len(rel_paths)} HR/LR pairs (x{generator.scale}, generator {generator.weights}) written to '
          f'{output_dir}/HR and {output_dir}/LR.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
