"""Inference helpers for testing and validation: tiled processing, x8 self-ensemble, reduced precision."""
import contextlib
from typing import Callable, Iterator

import torch
from torch import nn

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


def super_resolve(net: nn.Module, lq: torch.Tensor, tile: int | None = None, tile_pad: int = 16,
                  ensemble: bool = False, amp: str = 'none') -> torch.Tensor:
    """``net(lq)`` with the inference options of ``val``: tiling, self-ensemble and precision (float32 out)."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        with autocast(x.device, amp):
            out = tiled_forward(net, x, tile, tile_pad) if tile else net(x)
        return out.float()

    return self_ensemble(forward, lq) if ensemble else forward(lq)

