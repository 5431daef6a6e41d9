"""ESRGAN network interpolation: blend a PSNR-oriented and a GAN-trained network of the same architecture.

    python scripts/net_interp.py --alpha 0.8
    python scripts/net_interp.py --alpha 0.6 --net_psnr P.pth --net_esrgan E.pth --output interp.pth

Every tensor becomes ``(1 - alpha) * theta_PSNR + alpha * theta_GAN``: alpha 0 gives the PSNR network, 1 the GAN
one, values between trade fidelity for texture without retraining. Inputs may be BasicSR files (``params`` /
``params_ema``) or bare state dicts; RRDBNet weights may be in any of its key layouts (BasicSR's, or the ESRGAN
repository's old ``model.N`` or 2019 ``RRDB_trunk`` ones), and the two need not share one. The result takes the key
layout of ``--net_psnr`` and is a BasicSR file (``{'params': ...}``) if that input was one, a bare state dict
otherwise. Networks whose tensor names or shapes differ are refused.
"""
import argparse
from collections import OrderedDict
from pathlib import Path

import torch

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.archs.key_layouts import detect_layout, rename_keys
from basicsr.utils.checkpoint import extract_state_dict, load_checkpoint, save_checkpoint
from basicsr.utils.errors import CheckpointError

PRETRAINED = Path(__file__).resolve().parents[1] / 'experiments' / 'pretrained_models'  # this repository's


def alpha_tag(alpha: float) -> str:
    """Alpha's digits without the point, at least two: 0.8 -> '08', 1 -> '10', 0.85 -> '085'."""
    return f'{alpha:.4f}'.rstrip('0').rstrip('.').replace('.', '').ljust(2, '0')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--alpha', type=float, required=True, help='weight of the GAN network, in [0, 1]')
    parser.add_argument('--net_psnr', '--net-psnr', default=str(PRETRAINED / 'RRDB_PSNR_x4.pth'),
                        help='PSNR-oriented network (default: %(default)s)')
    parser.add_argument('--net_esrgan', '--net-esrgan', default=str(PRETRAINED / 'RRDB_ESRGAN_x4.pth'),
                        help='GAN-trained network (default: %(default)s)')
    parser.add_argument('--output', help=f'file to write (default: {PRETRAINED}/RRDB_interp_<alpha>.pth, e.g. '
                        'RRDB_interp_08.pth for 0.8)')
    parser.add_argument('--param-key', default='params_ema',
                        help='which weights of a BasicSR file to read (falls back to the other; default params_ema)')
    parser.add_argument('--overwrite', action='store_true', help='replace the output file if it exists')
    return parser


def load_weights(path: str, param_key: str) -> tuple['OrderedDict[str, torch.Tensor]', bool]:
    """The weights in ``path`` and whether the file was a BasicSR ``params``/``params_ema`` wrapper."""
    checkpoint = load_checkpoint(path)
    wrapped = isinstance(checkpoint, dict) and any(isinstance(checkpoint.get(k), dict)
                                                   for k in ('params', 'params_ema'))
    return extract_state_dict(checkpoint, param_key, path), wrapped


def to_same_layout(state: 'OrderedDict[str, torch.Tensor]', reference: 'OrderedDict[str, torch.Tensor]',
                   source: str) -> 'OrderedDict[str, torch.Tensor]':
    """``state`` renamed into the RRDBNet key layout of ``reference`` when both are RRDBNet layouts that differ."""
    ours, theirs = detect_layout(state, 'RRDBNet'), detect_layout(reference, 'RRDBNet')
    if ours is None or theirs is None or ours == theirs:
        return state
    try:
        return rename_keys(state, 'RRDBNet', ours, theirs)
    except CheckpointError as err:
        raise CheckpointError(f'{source}: {err}') from None


def check_compatible(psnr: dict, gan: dict, psnr_path: str, gan_path: str) -> None:
    """Refuse two networks unless they have the same tensor names and shapes; name the first difference."""
    for key, tensor in psnr.items():
        if key not in gan:
            raise CheckpointError(f"{psnr_path} has '{key}', {gan_path} does not: the networks differ.")
        if gan[key].shape != tensor.shape:
            raise CheckpointError(f"'{key}' is {tuple(tensor.shape)} in {psnr_path} but {tuple(gan[key].shape)} "
                                  f'in {gan_path}: the networks differ.')
    extra = next((key for key in gan if key not in psnr), None)
    if extra is not None:
        raise CheckpointError(f"{gan_path} has '{extra}', {psnr_path} does not: the networks differ.")


def interpolate(psnr: dict, gan: dict, alpha: float) -> 'OrderedDict[str, torch.Tensor]':
    """``(1 - alpha) * psnr + alpha * gan`` per tensor, in float64, back in each tensor's dtype (integer tensors,
    such as BatchNorm's batch counters, rounded); alpha 0 and 1 return the inputs' values exactly."""
    out = OrderedDict()
    for key, p in psnr.items():
        blend = (1 - alpha) * p.double() + alpha * gan[key].double()
        out[key] = (blend if p.is_floating_point() else blend.round()).to(p.dtype)
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.alpha <= 1:
        raise SystemExit(f'--alpha: must be in [0, 1], got {args.alpha}.')
    output = Path(args.output or PRETRAINED / f'RRDB_interp_{alpha_tag(args.alpha)}.pth')
    _bootstrap.refuse_existing_output(output, args.overwrite)
    psnr, wrapped = load_weights(args.net_psnr, args.param_key)
    gan, _ = load_weights(args.net_esrgan, args.param_key)
    gan = to_same_layout(gan, psnr, args.net_esrgan)
    check_compatible(psnr, gan, args.net_psnr, args.net_esrgan)
    result = interpolate(psnr, gan, args.alpha)
    save_checkpoint({'params': result} if wrapped else result, output)
    print(f'alpha {args.alpha:g}: {len(result)} tensors interpolated, written to {output}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
