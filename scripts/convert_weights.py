"""Convert RRDBNet or RCAN weights between BasicSR's key layout and the official repositories' layouts.

    python scripts/convert_weights.py --arch RRDBNet --to official net_g_400000.pth RRDB_ESRGAN_official.pth
    python scripts/convert_weights.py --arch RCAN --to basicsr RCAN_BIX4.pt RCAN_x4_basicsr.pth

The layout of IN is recognised from its keys. BasicSR-layout output is written as ``{'params': weights}`` (what
``path.pretrain_network_g`` reads); official-layout output as a bare state dict, as the official repositories save
it. RRDBNet's ``official`` layout is the original ESRGAN one (``model.0``, ``model.1.sub.N.RDB1.conv1.0``, ...), read
by the ESRGAN test code of 2018 and the tools built on it; ``esrgan2019`` is the ESRGAN repository's later layout
(``RRDB_trunk``); both describe the x4 network (RRDBNet x2/x1 weights convert key by key, but only code with
BasicSR's pixel-unshuffle runs them). The official RCAN layout (read by spandrel, hence chaiNNer and ComfyUI)
stores the pixel mean as two 1x1 convolutions, made from ``--rgb-mean`` and ``--img-range``; going the other way
their values are checked and reported, since BasicSR's RCAN takes the mean as ``network_g.rgb_mean``.
"""
import argparse
from pathlib import Path

import torch

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.archs.key_layouts import BASICSR, LAYOUTS, detect_layout, pop_rcan_mean_shift, rcan_mean_shift, rename_keys
from basicsr.archs.rcan_arch import DIV2K_RGB_MEAN
from basicsr.utils.checkpoint import load_state_dict, save_checkpoint
from basicsr.utils.errors import CheckpointError

MEAN_SHIFT_ARCHS = ('RCAN', 'EDSR')  # official layouts carrying EDSR-PyTorch's MeanShift convolutions


def layout_help() -> str:
    return '; '.join(f'{arch}: ' + ', '.join(f'{name} = {layout.description}' for name, layout in layouts.items())
                     for arch, layouts in LAYOUTS.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=f'Layouts: {layout_help()}.')
    parser.add_argument('--arch', required=True, choices=sorted(LAYOUTS), help='network of the weights')
    parser.add_argument('--to', required=True, choices=sorted({n for layouts in LAYOUTS.values() for n in layouts}),
                        help='layout to write')
    parser.add_argument('input', metavar='IN', help='weights file (.pth/.pt/.safetensors; BasicSR wrapper or bare)')
    parser.add_argument('output', metavar='OUT', help='file to write')
    parser.add_argument('--param-key', default='params_ema',
                        help="which weights of a BasicSR file to read (falls back to the other; default params_ema)")
    parser.add_argument('--rgb-mean', type=float, nargs=3, metavar=('R', 'G', 'B'), default=list(DIV2K_RGB_MEAN),
                        help='RCAN: pixel mean of the official mean shift (default: DIV2K, as BasicSR\'s RCAN)')
    parser.add_argument('--img-range', type=float, default=255.0,
                        help='RCAN: pixel range the network works in (default 255, as both implementations)')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT if it exists')
    return parser


def convert(state: dict, arch: str, target: str, rgb_mean: list[float], img_range: float) -> tuple[dict, str]:
    """``state`` in layout ``target``, and a line describing what was done."""
    source = detect_layout(state, arch)
    if source is None:
        known = ', '.join(f"{name} (has '{layout.marker}')" for name, layout in LAYOUTS[arch].items())
        raise CheckpointError(f'not in any known {arch} layout: expected one of {known}.')
    if source == target:
        raise CheckpointError(f'already in the {target} layout of {arch}; nothing to convert.')
    note = f'{arch}: {source} -> {target} layout'
    if arch in MEAN_SHIFT_ARCHS and source != BASICSR:
        state, shift = pop_rcan_mean_shift(state, arch)
        file_mean = shift / img_range
        is_div2k = file_mean.shape == (3,) and torch.allclose(file_mean, torch.tensor(DIV2K_RGB_MEAN), atol=1e-5)
        note += (f'; its mean shift is rgb_mean {[round(v, 6) for v in file_mean.tolist()]} at img_range '
                 f"{img_range:g}{'' if is_div2k else ' (not DIV2K: set network_g.rgb_mean to it)'}")
    state = rename_keys(state, arch, source, target)
    if arch in MEAN_SHIFT_ARCHS and target != BASICSR:
        state.update(rcan_mean_shift(rgb_mean, img_range))
    return state, note


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.to not in LAYOUTS[args.arch]:
        parser.error(f"--to {args.to}: {args.arch} layouts are {', '.join(LAYOUTS[args.arch])}.")
    output = Path(args.output)
    _bootstrap.refuse_existing_output(output, args.overwrite, 'OUT')
    state = load_state_dict(args.input, args.param_key)
    try:
        state, note = convert(state, args.arch, args.to, args.rgb_mean, args.img_range)
    except CheckpointError as err:
        raise CheckpointError(f'{args.input}: {err}') from None
    save_checkpoint({'params': state} if args.to == BASICSR else state, output)
    print(f'{note}: {len(state)} tensors written to {output}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
