"""SwinIR (Liang et al., ICCVW 2021): residual groups of (shifted-)window self-attention blocks.

Key names and arguments are those of the official ``JingyunLiang/SwinIR`` network, which BasicSR's ``SwinIR`` copies,
so the published files (``001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth``, ...) load strictly; spandrel reads the
files this one writes. The derived tensors are in the file as in the official code: ``attn.relative_position_index``
and, in shifted blocks, ``attn_mask`` (the mask for ``img_size`` inputs; other sizes get theirs computed).

The attention windows tile the input, so its height and width must be multiples of the window: the network says
so in ``input_multiple``, and :func:`basicsr.models.inference.super_resolve` pads the input (reflect) and crops the
output, as BasicSR's ``SwinIRModel.test`` does. Training patches are chosen as multiples (48 or 64 for window 8).

The window blocks, masks and initialisation here are shared with HAT (``hat_arch.py``).
"""
from typing import Literal, Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from basicsr.archs.arch_util import Upsample, trunc_normal_
from basicsr.archs.arch_util import to_2tuple  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.archs.rcan_arch import DIV2K_RGB_MEAN
from basicsr.utils.registry import ARCH_REGISTRY


def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
    """Stochastic depth: zero the branch for a random ``drop_prob`` of the samples, scale the others up."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    """:func:`drop_path` as a module (active in training mode only)."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)


class Mlp(nn.Module):
    """Token-wise feed-forward: ``fc1`` -> GELU -> dropout -> ``fc2`` -> dropout."""

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * windows, window * window, C), windows in raster order."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def window_reverse(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """The inverse of :func:`window_partition`: (B * windows, window * window, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(-1, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


def relative_position_index(window: int) -> torch.Tensor:
    """(window^2, window^2) index into the (2 * window - 1)^2 relative-position bias table: the offset (dy, dx)
    between two positions of a window, as ``(dy + window - 1) * (2 * window - 1) + dx + window - 1``."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij')).flatten(1)
    offsets = (coords[:, :, None] - coords[:, None, :]) + (window - 1)
    return offsets[0] * (2 * window - 1) + offsets[1]


def shifted_window_mask(height: int, width: int, window: int, shift: int) -> torch.Tensor:
    """(windows, window^2, window^2) additive attention mask of shifted windows: -100 between positions that the
    cyclic shift brought together from different regions of the image, 0 elsewhere."""
    regions = torch.zeros(1, height, width, 1)
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for i, rows in enumerate(bands):
        for j, cols in enumerate(bands):
            regions[:, rows, cols, :] = 3 * i + j
    labels = window_partition(regions, window).squeeze(-1)
    different = labels.unsqueeze(1) != labels.unsqueeze(2)
    return torch.zeros(different.shape).masked_fill(different, -100.0)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window, with a learned bias per relative position and head.

    Args:
        dim: token channels. window_size: window side. num_heads: heads (``dim`` must divide by it).
        qkv_bias: biases of the query/key/value projection. qk_scale: overrides ``head_dim ** -0.5``.
        attn_drop / proj_drop: dropout of the attention weights / of the output.
        own_index: keep the relative-position index as the buffer ``relative_position_index`` (SwinIR); HAT
            passes one shared index instead.
    """

    def __init__(self, dim: int, window_size: int, num_heads: int, qkv_bias: bool = True,
                 qk_scale: float | None = None, attn_drop: float = 0.0, proj_drop: float = 0.0,
                 own_index: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'{dim} channels do not split into {num_heads} heads.')
        self.window_size, self.num_heads = window_size, num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.attn_drop = attn_drop
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1)**2, num_heads))
        if own_index:
            self.register_buffer('relative_position_index', relative_position_index(window_size))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                index: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: (B * windows, window^2, C); ``mask``: (windows, window^2, window^2) additive, or None."""
        index = self.relative_position_index if index is None else index
        b_, n, c = x.shape
        q, k, v = self.qkv(x).view(b_, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[index.view(-1)].view(n, n, -1).permute(2, 0, 1)
        if mask is not None:  # (images, windows, heads, n, n) so that each window gets its own mask
            windows = mask.shape[0]
            q, k, v = (t.view(b_ // windows, windows, self.num_heads, n, -1) for t in (q, k, v))
            bias = bias.unsqueeze(0) + mask.unsqueeze(1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=self.scale,
                                             dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(out.reshape(b_, self.num_heads, n, -1).transpose(1, 2).reshape(b_, n, c)))


class SwinTransformerBlock(nn.Module):
    """``x + attn(norm1(x))`` over (shifted) windows, then ``x + mlp(norm2(x))``, both with stochastic depth.

    When ``img_size`` is not larger than the window, the window shrinks to the image and nothing is shifted, as in
    the official code (the bias table and mask then have those sizes).
    """

    def __init__(self, dim: int, img_size: int, num_heads: int, window_size: int, shift_size: int,
                 mlp_ratio: float, qkv_bias: bool, qk_scale: float | None, drop: float, attn_drop: float,
                 drop_path: float) -> None:
        super().__init__()
        if img_size <= window_size:
            window_size, shift_size = img_size, 0
        self.img_size, self.window_size, self.shift_size = img_size, window_size, shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        mask = shifted_window_mask(img_size, img_size, window_size, shift_size) if shift_size else None
        self.register_buffer('attn_mask', mask)

    def forward(self, x: torch.Tensor, x_size: tuple[int, int]) -> torch.Tensor:
        h, w = x_size
        b, _, c = x.shape
        shifted = self.norm1(x).view(b, h, w, c)
        mask = None
        if self.shift_size:
            shifted = torch.roll(shifted, (-self.shift_size, -self.shift_size), dims=(1, 2))
            mask = self.attn_mask if x_size == (self.img_size, self.img_size) else shifted_window_mask(
                h, w, self.window_size, self.shift_size).to(x.device)
        attended = window_reverse(self.attn(window_partition(shifted, self.window_size), mask), self.window_size, h, w)
        if self.shift_size:
            attended = torch.roll(attended, (self.shift_size, self.shift_size), dims=(1, 2))
        x = x + self.drop_path(attended.reshape(b, h * w, c))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def run_blocks(blocks: nn.ModuleList, x: torch.Tensor, use_checkpoint: bool, *args) -> torch.Tensor:
    """``x`` through ``blocks`` (each called with ``x, *args``), recomputing activations in the backward pass when
    ``use_checkpoint`` (less memory for more time)."""
    for block in blocks:
        if use_checkpoint and torch.is_grad_enabled():
            x = checkpoint(block, x, *args, use_reentrant=False)
        else:
            x = block(x, *args)
    return x


class BasicLayer(nn.Module):
    """The Swin blocks of one residual group (key ``blocks``), unshifted and shifted windows alternating."""

    def __init__(self, dim: int, img_size: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float,
                 qkv_bias: bool, qk_scale: float | None, drop: float, attn_drop: float, drop_path: Sequence[float],
                 use_checkpoint: bool) -> None:
        super().__init__()
        self.use_checkpoint = use_checkpoint
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(dim, img_size, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2,
                                 mlp_ratio, qkv_bias, qk_scale, drop, attn_drop, drop_path[i]) for i in range(depth))

    def forward(self, x: torch.Tensor, x_size: tuple[int, int]) -> torch.Tensor:
        return run_blocks(self.blocks, x, self.use_checkpoint, x_size)


def residual_conv(dim: int, resi_connection: str) -> nn.Module:
    """The convolution closing a residual group: one 3x3 (``1conv``) or a 3x3-1x1-3x3 bottleneck (``3conv``)."""
    if resi_connection == '1conv':
        return nn.Conv2d(dim, dim, 3, 1, 1)
    if resi_connection == '3conv':
        return nn.Sequential(nn.Conv2d(dim, dim // 4, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
                             nn.Conv2d(dim // 4, dim // 4, 1, 1, 0), nn.LeakyReLU(0.2, inplace=True),
                             nn.Conv2d(dim // 4, dim, 3, 1, 1))
    if resi_connection == 'identity':  # HAT only
        return nn.Identity()
    raise ValueError(f"resi_connection must be '1conv' or '3conv', got {resi_connection!r}.")


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H * W, C)."""
    return x.flatten(2).transpose(1, 2)


def to_image(x: torch.Tensor, x_size: tuple[int, int]) -> torch.Tensor:
    """(B, H * W, C) -> (B, C, H, W)."""
    return x.transpose(1, 2).reshape(x.shape[0], -1, *x_size)


class RSTB(nn.Module):
    """Residual Swin Transformer block: ``x + conv(blocks(x))`` (keys ``residual_group``, ``conv``)."""

    def __init__(self, dim: int, resi_connection: str, **layer_args) -> None:
        super().__init__()
        self.residual_group = BasicLayer(dim, **layer_args)
        self.conv = residual_conv(dim, resi_connection)

    def forward(self, x: torch.Tensor, x_size: tuple[int, int]) -> torch.Tensor:
        return x + to_tokens(self.conv(to_image(self.residual_group(x, x_size), x_size)))


class PatchEmbed(nn.Module):
    """Feature map to tokens, layer-normalised when ``norm`` (the official ``patch_embed``, key ``norm``)."""

    def __init__(self, dim: int, norm: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_tokens(x)
        return self.norm(x) if self.norm is not None else x


def init_transformer_weights(module: nn.Module) -> None:
    """The official initialisation of SwinIR and HAT: linear weights truncated-normal (std 0.02) with zero biases,
    layer norms to identity; convolutions keep PyTorch's default."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def image_mean(in_chans: int) -> torch.Tensor:
    """The pixel mean SwinIR and HAT subtract: DIV2K's for RGB, none for other channel counts."""
    mean = DIV2K_RGB_MEAN if in_chans == 3 else (0.0,)
    return torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)


def group_drop_path_rates(drop_path_rate: float, depths: Sequence[int]) -> list[list[float]]:
    """Stochastic-depth rates rising linearly from 0 to ``drop_path_rate`` over all blocks, split by group."""
    rates = torch.linspace(0, drop_path_rate, sum(depths), device='cpu').tolist()
    starts = [sum(depths[:i]) for i in range(len(depths))]
    return [rates[start:start + depth] for start, depth in zip(starts, depths)]


def check_input_size(net: nn.Module, x: torch.Tensor) -> None:
    """A ValueError unless ``x``'s height and width are multiples of ``net.input_multiple``."""
    if x.shape[-2] % net.input_multiple or x.shape[-1] % net.input_multiple:
        raise ValueError(f'{type(net).__name__}: the input height and width must be multiples of '
                         f'{net.input_multiple} (the attention window), got {tuple(x.shape[-2:])}; '
                         'basicsr.models.inference.super_resolve pads them.')


def pixelshuffle_head(embed_dim: int, upscale: int, num_out_ch: int,
                      num_feat: int = 64) -> tuple[nn.Sequential, Upsample, nn.Conv2d]:
    """The classical-SR reconstruction of SwinIR and HAT, modules ``conv_before_upsample`` (conv + LeakyReLU to
    ``num_feat`` channels), ``upsample`` (conv + pixel-shuffle steps) and ``conv_last`` (conv to the image)."""
    return (nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1), nn.LeakyReLU(inplace=True)),
            Upsample(upscale, num_feat), nn.Conv2d(num_feat, num_out_ch, 3, 1, 1))


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0', spandrel_arch='SwinIR',
    input_multiple=lambda kwargs: min(kwargs.get('window_size', 7), kwargs.get('img_size', 64)),
    tiny_config={'upscale': 4, 'img_size': 16, 'window_size': 4, 'depths': [1], 'embed_dim': 12, 'num_heads': [2],
                 'mlp_ratio': 2.0, 'upsampler': 'pixelshuffle'},
    official_config={'upscale': 4, 'img_size': 48, 'window_size': 8, 'depths': [6] * 6, 'embed_dim': 180,
                     'num_heads': [6] * 6, 'mlp_ratio': 2.0, 'upsampler': 'pixelshuffle'})  # classical SR x4
class SwinIR(nn.Module):
    """SwinIR: shallow conv, residual Swin Transformer groups with a conv and a long skip, then reconstruction.

    Defaults are BasicSR's class defaults; the classical x4 model is ``upscale: 4, img_size: 48`` (BasicSR's
    training) or 64 (the official files), ``window_size: 8, depths: [6] * 6, embed_dim: 180, num_heads: [6] * 6,
    mlp_ratio: 2, upsampler: pixelshuffle``.

    Args:
        upscale: 2, 3, 4 or 8 (``pixelshuffle``), any (``pixelshuffledirect``), 4 (``nearest+conv``), 1 (``''``).
        in_chans: image channels (in and out). img_size: training patch side (LR), for the stored masks.
        window_size: attention window. img_range: the network works on ``(x - mean) * img_range``.
        depths / num_heads: blocks and heads of each residual group. embed_dim: token channels.
        mlp_ratio: hidden width of the MLPs relative to ``embed_dim``. qkv_bias / qk_scale: see WindowAttention.
        drop_rate / attn_drop_rate: dropout. drop_path_rate: stochastic depth, rising linearly to this over blocks.
        patch_norm: layer-normalise the embedded tokens. use_checkpoint: gradient checkpointing of the blocks.
        upsampler: ``pixelshuffle`` (classical SR), ``pixelshuffledirect`` (lightweight, one conv + shuffle),
            ``nearest+conv`` (real-world SR), ``''`` (restoration at scale 1, output = input + residual).
        resi_connection: ``1conv`` or ``3conv`` (bottleneck) closing each group and the body.
    """

    def __init__(self, upscale: int = 2, in_chans: int = 3, img_size: int = 64, window_size: int = 7,
                 img_range: float = 1.0, depths: Sequence[int] = (6, 6, 6, 6), embed_dim: int = 96,
                 num_heads: Sequence[int] = (6, 6, 6, 6), mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 qk_scale: float | None = None, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.1, patch_norm: bool = True, use_checkpoint: bool = False,
                 upsampler: Literal['pixelshuffle', 'pixelshuffledirect', 'nearest+conv', ''] = '',
                 resi_connection: Literal['1conv', '3conv'] = '1conv') -> None:
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f'SwinIR: depths {list(depths)} and num_heads {list(num_heads)} differ in length.')
        if upsampler == 'nearest+conv' and upscale != 4:
            raise ValueError(f"SwinIR: upsampler 'nearest+conv' is x4 only, got upscale {upscale}.")
        if upsampler == '' and upscale != 1:
            raise ValueError(f"SwinIR: upsampler '' restores at scale 1, got upscale {upscale}.")
        self.upsampler, self.img_range = upsampler, img_range
        self.input_multiple = min(window_size, img_size)  # see basicsr.models.inference.super_resolve
        self.register_buffer('mean', image_mean(in_chans), persistent=False)
        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = PatchEmbed(embed_dim, patch_norm)
        self.pos_drop = nn.Dropout(drop_rate)
        self.layers = nn.ModuleList(
            RSTB(embed_dim, resi_connection, img_size=img_size, depth=depth, num_heads=heads,
                 window_size=window_size, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop_rate,
                 attn_drop=attn_drop_rate, drop_path=rates, use_checkpoint=use_checkpoint)
            for depth, heads, rates in zip(depths, num_heads, group_drop_path_rates(drop_path_rate, depths)))
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = residual_conv(embed_dim, resi_connection)
        num_feat = 64
        if upsampler == 'pixelshuffle':
            self.conv_before_upsample, self.upsample, self.conv_last = pixelshuffle_head(embed_dim, upscale, in_chans)
        elif upsampler == 'pixelshuffledirect':
            self.upsample = nn.Sequential(nn.Conv2d(embed_dim, upscale**2 * in_chans, 3, 1, 1),
                                          nn.PixelShuffle(upscale))
        elif upsampler == 'nearest+conv':
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1),
                                                      nn.LeakyReLU(inplace=True))
            self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_last = nn.Conv2d(num_feat, in_chans, 3, 1, 1)
            self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        else:
            self.conv_last = nn.Conv2d(embed_dim, in_chans, 3, 1, 1)
        self.apply(init_transformer_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x_size = (x.shape[2], x.shape[3])
        x = self.pos_drop(self.patch_embed(x))
        for layer in self.layers:
            x = layer(x, x_size)
        return to_image(self.norm(x), x_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(self, x)
        x = (x - self.mean) * self.img_range
        feat = self.conv_first(x)
        feat = feat + self.conv_after_body(self.forward_features(feat))
        if self.upsampler == 'pixelshuffle':
            out = self.conv_last(self.upsample(self.conv_before_upsample(feat)))
        elif self.upsampler == 'pixelshuffledirect':
            out = self.upsample(feat)
        elif self.upsampler == 'nearest+conv':
            out = self.conv_before_upsample(feat)
            for conv in (self.conv_up1, self.conv_up2):
                out = self.lrelu(conv(F.interpolate(out, scale_factor=2, mode='nearest')))
            out = self.conv_last(self.lrelu(self.conv_hr(out)))
        else:
            out = x + self.conv_last(feat)
        return out / self.img_range + self.mean
