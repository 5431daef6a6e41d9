"""Export a trained generator to safetensors and/or ONNX (dynamic batch, height and width).

    python scripts/export.py -opt options/test/X.yml --weights experiments/X/models/net_g_latest.pth \
        --format safetensors onnx --output exported/

The network is ``network_g`` of the option file (any training or testing file, or one holding only that
section); the weights are ``--weights`` or the file's ``path.pretrain_network_g``, ``--param-key`` (default: the
file's ``path.param_key_g``, else ``params``) picking ``params`` or ``params_ema``. Writes ``OUTPUT/NAME.safetensors``
(the state dict, with the ``network_g`` section and the basicsr version as metadata) and ``OUTPUT/NAME.onnx``
(input ``lq``, output ``sr``, NCHW float32 RGB in [0, 1]); NAME defaults to the weights file's stem.

ONNX uses PyTorch's torch.export-based exporter, which needs the ``onnxscript`` package (``pip install
basicsr[export]`` installs it with safetensors, onnx and onnxruntime); ``--onnx-exporter torchscript`` picks the
older TorchScript-based one instead (deprecated by PyTorch, no onnxscript needed, several times faster on large
networks such as RRDBNet). When onnxruntime is installed, the ONNX model is run on a random input of another batch
size and image size than the export sample, and the export fails if its output differs from PyTorch's by more than
``--atol``.
"""
import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from _network import Generator, load_generator
from basicsr.utils.checkpoint import atomic_write
from basicsr.utils.errors import BasicSRError
from basicsr.version import __version__

FORMATS = ('safetensors', 'onnx')
INPUT_NAME, OUTPUT_NAME = 'lq', 'sr'


def export_safetensors(generator: Generator, path: Path) -> None:
    """Write the state dict, with ``network_g`` (JSON) and the basicsr version as metadata."""
    try:
        from safetensors.torch import save
    except ImportError as err:
        raise BasicSRError('--format safetensors needs the safetensors package (pip install safetensors).') from err
    state = {name: tensor.detach().contiguous() for name, tensor in generator.net.state_dict().items()}
    metadata = {'network_g': json.dumps(generator.network_opt), 'basicsr_version': __version__}
    atomic_write(path, lambda file: file.write(save(state, metadata=metadata)))


def export_onnx(net: nn.Module, path: Path, sample_size: int, opset: int | None, exporter: str = 'dynamo') -> None:
    """Export with dynamic batch, height and width axes, traced on two ``sample_size``-pixel square images (a batch
    of 2, since torch.export fixes a dimension that is 1 in the sample)."""
    if exporter == 'dynamo':
        try:
            import onnxscript  # noqa: F401  (the exporter's own error for a missing onnxscript is less clear)
        except ImportError as err:
            raise BasicSRError('--format onnx needs the onnxscript and onnx packages (pip install onnxscript onnx, '
                               'or pip install basicsr[export]), or --onnx-exporter torchscript.') from err
    sample = torch.rand(2, _input_channels(net), sample_size, sample_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if exporter == 'dynamo':
            dims = {0: torch.export.Dim('batch'), 2: torch.export.Dim('height'), 3: torch.export.Dim('width')}
            program = torch.onnx.export(net, (sample, ), dynamo=True, dynamic_shapes=(dims, ), opset_version=opset,
                                        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], verbose=False)
            program.save(str(path), external_data=False)
        else:
            axes = {INPUT_NAME: {0: 'batch', 2: 'height', 3: 'width'},
                    OUTPUT_NAME: {0: 'batch', 2: 'out_height', 3: 'out_width'}}
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', DeprecationWarning)  # "legacy exporter": chosen knowingly
                torch.onnx.export(net, (sample, ), str(path), dynamo=False, input_names=[INPUT_NAME],
                                  output_names=[OUTPUT_NAME], dynamic_axes=axes, opset_version=opset or 17)
    except Exception as err:  # the exporters raise many error types; report them as one clear failure
        raise BasicSRError(f'ONNX export of {net.__class__.__name__} failed: {err}') from err


def _input_channels(net: nn.Module) -> int:
    """Channels of the first convolution: the image channels the network expects."""
    first = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None:
        raise BasicSRError(f'{net.__class__.__name__}: no Conv2d layer to tell the input channels from.')
    return first.in_channels


def check_onnx(net: nn.Module, path: Path, sample_size: int, atol: float) -> float | None:
    """Max |ONNX - PyTorch| on 3 images of another size than the export sample (larger by 8 and 16 pixels, which
    keeps the divisibility some networks need); None without onnxruntime. Raises when it exceeds ``atol``."""
    try:
        import onnxruntime
    except ImportError:
        return None
    generator = torch.Generator().manual_seed(0)
    lq = torch.rand(3, _input_channels(net), sample_size + 8, sample_size + 16, generator=generator)
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    onnx_out = session.run([OUTPUT_NAME], {INPUT_NAME: lq.numpy()})[0]
    with torch.inference_mode():
        torch_out = net(lq).numpy()
    if onnx_out.shape != torch_out.shape:
        raise BasicSRError(f'{path}: ONNX output shape {onnx_out.shape} differs from PyTorch {torch_out.shape}.')
    diff = float(np.abs(onnx_out - torch_out).max())
    if not diff <= atol:
        raise BasicSRError(f'{path}: ONNX output differs from PyTorch by up to {diff:.3g} (> --atol {atol:g}).')
    return diff


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', required=True, help='option file with a network_g section')
    parser.add_argument('--weights', help='checkpoint (.pth or .safetensors); default: path.pretrain_network_g')
    parser.add_argument('--param-key', help='params or params_ema (default: path.param_key_g, else params)')
    parser.add_argument('--format', nargs='+', choices=FORMATS, default=list(FORMATS), help='what to write')
    parser.add_argument('--output', required=True, help='output folder')
    parser.add_argument('--name', help='output file stem (default: the weights file stem)')
    parser.add_argument('--sample-size', type=int, default=32, help='side of the image traced for ONNX (32)')
    parser.add_argument('--opset', type=int, help='ONNX opset version (default: the exporter\'s; 17 for torchscript)')
    parser.add_argument('--onnx-exporter', choices=('dynamo', 'torchscript'), default='dynamo',
                        help='torch.export-based (default; needs onnxscript) or the older TorchScript-based exporter '
                             '(deprecated by PyTorch, but several times faster on large networks)')
    parser.add_argument('--atol', type=float, default=1e-4, help='largest ONNX-PyTorch difference accepted (1e-4)')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.sample_size < 1:
        raise SystemExit(f'--sample-size: must be positive, got {args.sample_size}.')
    generator = load_generator(args.opt, args.weights, args.param_key)
    stem = args.name or generator.weights.stem
    output = Path(args.output)
    if 'safetensors' in args.format:
        export_safetensors(generator, output / f'{stem}.safetensors')
        print(f"Wrote {output / f'{stem}.safetensors'}.")
    if 'onnx' in args.format:
        path = output / f'{stem}.onnx'
        export_onnx(generator.net, path, args.sample_size, args.opset, args.onnx_exporter)
        diff = check_onnx(generator.net, path, args.sample_size, args.atol)
        check = 'not checked: onnxruntime is not installed' if diff is None else f'max |ONNX - PyTorch| {diff:.2e}'
        print(f'Wrote {path} ({check}).')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
