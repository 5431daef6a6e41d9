"""HAT (Chen et al., CVPR 2023, *Activating More Pixels in Image Super-Resolution Transformer*): SwinIR's window
attention with a parallel channel-attention convolution in every block, and an overlapping cross-attention block
closing every residual group.

Key names and arguments are those of the official ``XPixelGroup/HAT`` network, so its published files
(``HAT_SRx4.pth``, ``HAT-S``, ``HAT-L``) load strictly, and spandrel reads the files this one writes. As there, the
relative-position indices are top-level buffers in the file (``relative_position_index_SA``/``_OCA``) and the
shifted-window mask is computed for each input size. Like SwinIR, the input height and width must be multiples of
the window (``input_multiple``), which :func:`basicsr.models.inference.super_resolve` arranges by padding.
"""
from typing import Literal, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.arch_util import trunc_normal_
from basicsr.archs.rcan_arch import ChannelAttention
from basicsr.archs.swinir_arch import (DropPath, Mlp, PatchEmbed, WindowAttention, check_input_size,
                                       group_drop_path_rates, image_mean, init_transformer_weights,
                                       pixelshuffle_head, relative_position_index, residual_conv, run_blocks,
                                       shifted_window_mask, to_image, to_tokens, window_partition, window_reverse)
from basicsr.utils.registry import ARCH_REGISTRY


def overlapping_position_index(window: int, overlap_window: int) -> torch.Tensor:
    """(window^2, overlap_window^2) index into the (window + overlap_window - 1)^2 bias table of the overlapping
    cross-attention, for each query of a window and key of the larger window around it.

    As in the official code: the offsets between the two grids (both counted from 0) are shifted by
    ``window - overlap_window + 1``, so some indices are negative and wrap around the table; every offset still
    gets its own entry.
    """
    def grid(size: int) -> torch.Tensor:
        return torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')).flatten(1)

    offsets = grid(overlap_window)[:, None, :] - grid(window)[:, :, None] + (window - overlap_window + 1)
    return offsets[0] * (window + overlap_window - 1) + offsets[1]


class CAB(nn.Module):
    """Channel-attention block (key ``cab``): 3x3 conv down by ``compress_ratio``, GELU, 3x3 conv back, RCAN's
    channel attention with ``squeeze_factor``."""

    def __init__(self, num_feat: int, compress_ratio: int, squeeze_factor: int) -> None:
        super().__init__()
        self.cab = nn.Sequential(nn.Conv2d(num_feat, num_feat // compress_ratio, 3, 1, 1), nn.GELU(),
                                 nn.Conv2d(num_feat // compress_ratio, num_feat, 3, 1, 1),
                                 ChannelAttention(num_feat, squeeze_factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cab(x)


class HAB(nn.Module):
    """Hybrid attention block: ``x + attn(norm1(x)) + conv_scale * CAB(norm1(x))`` over (shifted) windows, then
    ``x + mlp(norm2(x))``, with stochastic depth on the attention and MLP branches."""

    def __init__(self, dim: int, num_heads: int, window_size: int, shift_size: int, compress_ratio: int,
                 squeeze_factor: int, conv_scale: float, mlp_ratio: float, qkv_bias: bool, qk_scale: float | None,
                 drop: float, attn_drop: float, drop_path: float) -> None:
        super().__init__()
        self.window_size, self.shift_size, self.conv_scale = window_size, shift_size, conv_scale
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, qkv_bias, qk_scale, attn_drop, drop, own_index=False)
        self.conv_block = CAB(dim, compress_ratio, squeeze_factor)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor, x_size: tuple[int, int], index: torch.Tensor,
                attn_mask: torch.Tensor) -> torch.Tensor:
        h, w = x_size
        b, _, c = x.shape
        normed = self.norm1(x).view(b, h, w, c)
        conv_x = to_tokens(self.conv_block(normed.permute(0, 3, 1, 2)))
        shift = self.shift_size
        shifted = torch.roll(normed, (-shift, -shift), dims=(1, 2)) if shift else normed
        windows = self.attn(window_partition(shifted, self.window_size), attn_mask if shift else None, index)
        attended = window_reverse(windows, self.window_size, h, w)
        if shift:
            attended = torch.roll(attended, (shift, shift), dims=(1, 2))
        x = x + self.drop_path(attended.reshape(b, h * w, c)) + conv_x * self.conv_scale
        return x + self.drop_path(self.mlp(self.norm2(x)))


class OCAB(nn.Module):
    """Overlapping cross-attention block: queries from each window attend to keys and values of a window enlarged
    by ``overlap_ratio`` (zero-padded at the image border), then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, window_size: int, overlap_ratio: float, num_heads: int, qkv_bias: bool,
                 qk_scale: float | None, mlp_ratio: float) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'{dim} channels do not split into {num_heads} heads.')
        self.window_size, self.num_heads = window_size, num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.overlap_win_size = int(window_size * overlap_ratio) + window_size
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.unfold = nn.Unfold(self.overlap_win_size, stride=window_size,
                                padding=(self.overlap_win_size - window_size) // 2)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((window_size + self.overlap_win_size - 1)**2, num_heads))
        trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, x_size: tuple[int, int], index: torch.Tensor) -> torch.Tensor:
        h, w = x_size
        b, _, c = x.shape
        heads, window, overlap = self.num_heads, self.window_size, self.overlap_win_size
        q, k, v = self.qkv(self.norm1(x)).view(b, h, w, 3, c).unbind(3)
        q = window_partition(q, window)  # (b * windows, window^2, c)
        kv = self.unfold(torch.cat((k, v), -1).permute(0, 3, 1, 2))  # (b, 2c * overlap^2, windows)
        k, v = kv.view(b, 2, c, overlap**2, -1).permute(1, 0, 4, 3, 2).reshape(2, -1, overlap**2, c)
        q, k, v = (t.view(t.shape[0], t.shape[1], heads, -1).transpose(1, 2) for t in (q, k, v))
        bias = self.relative_position_bias_table[index.view(-1)].view(window**2, overlap**2, -1).permute(2, 0, 1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=self.scale)
        out = window_reverse(out.transpose(1, 2).reshape(-1, window**2, c), window, h, w).reshape(b, h * w, c)
        x = x + self.proj(out)
        return x + self.mlp(self.norm2(x))


class AttenBlocks(nn.Module):
    """The hybrid attention blocks of one group (``blocks``, unshifted and shifted alternating) and its
    overlapping cross-attention (``overlap_attn``)."""

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, overlap_ratio: float,
                 drop_path: Sequence[float], use_checkpoint: bool, **block_args) -> None:
        super().__init__()
        self.use_checkpoint = use_checkpoint
        self.blocks = nn.ModuleList(
            HAB(dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2, drop_path=drop_path[i],
                **block_args) for i in range(depth))
        self.overlap_attn = OCAB(dim, window_size, overlap_ratio, num_heads, block_args['qkv_bias'],
                                 block_args['qk_scale'], block_args['mlp_ratio'])

    def forward(self, x: torch.Tensor, x_size: tuple[int, int], rpi_sa: torch.Tensor, attn_mask: torch.Tensor,
                rpi_oca: torch.Tensor) -> torch.Tensor:
        x = run_blocks(self.blocks, x, self.use_checkpoint, x_size, rpi_sa, attn_mask)
        return self.overlap_attn(x, x_size, rpi_oca)


class RHAG(nn.Module):
    """Residual hybrid attention group: ``x + conv(blocks(x))`` (keys ``residual_group``, ``conv``)."""

    def __init__(self, dim: int, resi_connection: str, **group_args) -> None:
        super().__init__()
        self.residual_group = AttenBlocks(dim, **group_args)
        self.conv = residual_conv(dim, resi_connection)

    def forward(self, x: torch.Tensor, x_size: tuple[int, int], *indices_and_mask: torch.Tensor) -> torch.Tensor:
        return x + to_tokens(self.conv(to_image(self.residual_group(x, x_size, *indices_and_mask), x_size)))


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0', spandrel_arch='HAT',
    input_multiple=lambda kwargs: kwargs.get('window_size', 7),
    tiny_config={'upscale': 4, 'img_size': 16, 'window_size': 4, 'depths': [1], 'embed_dim': 12, 'num_heads': [2],
                 'mlp_ratio': 2.0, 'squeeze_factor': 2},
    official_config={'upscale': 4, 'img_size': 64, 'window_size': 16, 'compress_ratio': 3, 'squeeze_factor': 30,
                     'conv_scale': 0.01, 'overlap_ratio': 0.5, 'depths': [6] * 6, 'embed_dim': 180,
                     'num_heads': [6] * 6, 'mlp_ratio': 2.0})  # HAT x4 (official HAT_SRx4.yml)
class HAT(nn.Module):
    """Hybrid Attention Transformer for classical SR (the official network's only reconstruction,
    ``upsampler: pixelshuffle``).

    Defaults are the official class defaults; the published HAT x4 is ``upscale: 4, img_size: 64, window_size: 16,
    compress_ratio: 3, squeeze_factor: 30, conv_scale: 0.01, overlap_ratio: 0.5, depths: [6] * 6, embed_dim: 180,
    num_heads: [6] * 6, mlp_ratio: 2``; HAT-S has ``compress_ratio: 24, squeeze_factor: 24, embed_dim: 144``, HAT-L
    twelve groups.

    Args:
        upscale: 2, 3, 4 or 8. in_chans: image channels (in and out). img_size: the training patch side (LR); it
            must exceed the window (the official code breaks otherwise) and sets nothing else here.
        window_size: attention window (and the multiple the input size must have).
        compress_ratio / squeeze_factor: channel reduction in the CAB's convolution / channel attention.
        conv_scale: weight of the CAB branch. overlap_ratio: enlargement of the cross-attention's key windows.
        depths / num_heads: blocks and heads of each group. embed_dim: token channels. mlp_ratio: MLP width.
        qkv_bias / qk_scale / drop_rate / attn_drop_rate / drop_path_rate / patch_norm / use_checkpoint: as SwinIR's.
        img_range: the network works on ``(x - mean) * img_range``. resi_connection: ``1conv`` or ``identity``.
    """

    def __init__(self, upscale: int = 2, in_chans: int = 3, img_size: int = 64, window_size: int = 7,
                 compress_ratio: int = 3, squeeze_factor: int = 30, conv_scale: float = 0.01,
                 overlap_ratio: float = 0.5, img_range: float = 1.0, depths: Sequence[int] = (6, 6, 6, 6),
                 embed_dim: int = 96, num_heads: Sequence[int] = (6, 6, 6, 6), mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, qk_scale: float | None = None, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.1, patch_norm: bool = True,
                 use_checkpoint: bool = False, upsampler: Literal['pixelshuffle'] = 'pixelshuffle',
                 resi_connection: Literal['1conv', 'identity'] = '1conv') -> None:
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f'HAT: depths {list(depths)} and num_heads {list(num_heads)} differ in length.')
        if img_size <= window_size:
            raise ValueError(f'HAT: img_size {img_size} must be larger than window_size {window_size}.')
        self.window_size, self.img_range = window_size, img_range
        self.input_multiple = window_size  # see basicsr.models.inference.super_resolve
        self.register_buffer('mean', image_mean(in_chans), persistent=False)
        self.register_buffer('relative_position_index_SA', relative_position_index(window_size))
        overlap_window = int(window_size * overlap_ratio) + window_size
        self.register_buffer('relative_position_index_OCA', overlapping_position_index(window_size, overlap_window))
        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = PatchEmbed(embed_dim, patch_norm)
        self.pos_drop = nn.Dropout(drop_rate)
        self.layers = nn.ModuleList(
            RHAG(embed_dim, resi_connection, depth=depth, num_heads=heads, window_size=window_size,
                 overlap_ratio=overlap_ratio, drop_path=rates, use_checkpoint=use_checkpoint,
                 compress_ratio=compress_ratio, squeeze_factor=squeeze_factor, conv_scale=conv_scale,
                 mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop_rate, attn_drop=attn_drop_rate)
            for depth, heads, rates in zip(depths, num_heads, group_drop_path_rates(drop_path_rate, depths)))
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = residual_conv(embed_dim, resi_connection)
        self.conv_before_upsample, self.upsample, self.conv_last = pixelshuffle_head(embed_dim, upscale, in_chans)
        self.apply(init_transformer_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x_size = (x.shape[2], x.shape[3])
        mask = shifted_window_mask(*x_size, self.window_size, self.window_size // 2).to(x.device)
        x = self.pos_drop(self.patch_embed(x))
        for layer in self.layers:
            x = layer(x, x_size, self.relative_position_index_SA, mask, self.relative_position_index_OCA)
        return to_image(self.norm(x), x_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(self, x)
        feat = self.conv_first((x - self.mean) * self.img_range)
        feat = feat + self.conv_after_body(self.forward_features(feat))
        out = self.conv_last(self.upsample(self.conv_before_upsample(feat)))
        return out / self.img_range + self.mean
