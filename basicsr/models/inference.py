"""Inference helpers for testing and validation: tiled processing, x8 self-ensemble, reduced precision, and
padding for networks that need a particular input size.

A network whose input height and width must be multiples of some n (window attention: SwinIR, HAT) says so with an
attribute ``input_multiple = n``; :func:`super_resolve` then pads each input it gives the network (each tile, each
flipped copy) at the bottom and right to that multiple and crops the output back, as BasicSR's ``SwinIRModel`` does
in its ``test``. A network without the attribute (spandrel's classes) has it from the registry's ``input_multiple``
metadata; others take any size.
"""
import contextlib
from typing import Callable, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.arch_info import input_multiple_of

AMP_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}


@contextlib.contextmanager
def autocast(device: torch.device, amp: str) -> Iterator[None]:
    """Autocast to ``amp`` ('none', 'fp16' or 'bf16') on ``device``; 'none' runs in float32."""
    if amp == 'none':
        yield
        return
    with torch.autocast(device.type, dtype=AMP_DTYPES[amp]):
        yield


def tiled_forward(net: Callable[[torch.Tensor], torch.Tensor], lq: torch.Tensor, tile: int,
                  tile_pad: int) -> torch.Tensor:
    """Run ``net`` on ``tile`` x ``tile`` pieces of ``lq``, each seen with ``tile_pad`` pixels of context on every
    side (where the image has them), and assemble the outputs; memory then depends on the tile size only.

    The output scale is read from the first tile's output, so any network (x1 to x4) works.
    """
    batch, _, height, width = lq.shape
    output = None
    scale = 1
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            pad_top, pad_left = max(top - tile_pad, 0), max(left - tile_pad, 0)
            pad_bottom, pad_right = min(bottom + tile_pad, height), min(right + tile_pad, width)
            piece = net(lq[:, :, pad_top:pad_bottom, pad_left:pad_right])
            if output is None:
                scale = piece.shape[-1] // (pad_right - pad_left)
                output = piece.new_zeros(batch, piece.shape[1], height * scale, width * scale)
            inner = piece[:, :, (top - pad_top) * scale:(bottom - pad_top) * scale,
                          (left - pad_left) * scale:(right - pad_left) * scale]
            output[:, :, top * scale:bottom * scale, left * scale:right * scale] = inner
    return output


def _dihedral(x: torch.Tensor, index: int) -> torch.Tensor:
    """The ``index``-th (0-7) of the 8 flips/rotations of the image plane."""
    x = torch.rot90(x, index % 4, dims=(-2, -1))
    return x.flip(-1) if index >= 4 else x


def _inverse_dihedral(x: torch.Tensor, index: int) -> torch.Tensor:
    x = x.flip(-1) if index >= 4 else x
    return torch.rot90(x, -(index % 4), dims=(-2, -1))


def self_ensemble(forward: Callable[[torch.Tensor], torch.Tensor], lq: torch.Tensor) -> torch.Tensor:
    """x8 geometric self-ensemble (EDSR): the mean of the outputs for the 8 flips/rotations of the input, each
    transformed back."""
    total = None
    for index in range(8):
        out = _inverse_dihedral(forward(_dihedral(lq, index)), index).float()
        total = out if total is None else total + out
    return total / 8


def input_multiple(net: nn.Module) -> int:
    """The multiple that ``net``'s input height and width must have: its ``input_multiple``, else the registry's
    declaration for its class (spandrel's networks), else 1 (:func:`basicsr.archs.arch_info.input_multiple_of`)."""
    return input_multiple_of(net)


def padded_forward(net: Callable[[torch.Tensor], torch.Tensor], lq: torch.Tensor, multiple: int) -> torch.Tensor:
    """``net(lq)`` with ``lq`` padded at the bottom and right to multiples of ``multiple`` (reflection, or
    replication where the image is too small to reflect) and the output cropped to the scale times ``lq``'s size."""
    height, width = lq.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not (pad_h or pad_w):
        return net(lq)
    mode = 'reflect' if pad_h < height and pad_w < width else 'replicate'
    out = net(F.pad(lq, (0, pad_w, 0, pad_h), mode=mode))
    scale = out.shape[-1] // (width + pad_w)
    return out[..., :height * scale, :width * scale]


def super_resolve(net: nn.Module, lq: torch.Tensor, tile: int | None = None, tile_pad: int = 16,
                  ensemble: bool = False, amp: str = 'none') -> torch.Tensor:
    """``net(lq)`` with the inference options of ``val``: tiling, self-ensemble and precision (float32 out); inputs
    are padded to the network's ``input_multiple`` (see the module's description)."""
    multiple = input_multiple(net)

    def run(x: torch.Tensor) -> torch.Tensor:
        return padded_forward(net, x, multiple) if multiple > 1 else net(x)

    def forward(x: torch.Tensor) -> torch.Tensor:
        with autocast(x.device, amp):
            out = tiled_forward(run, x, tile, tile_pad) if tile else run(x)
        return out.float()

    return self_ensemble(forward, lq) if ensemble else forward(lq)

