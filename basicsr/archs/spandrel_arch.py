"""The single-image SR networks of spandrel (and of ``spandrel-extra-arches`` when installed) in ARCH_REGISTRY.

spandrel (MIT; https://github.com/chaiNNer-org/spandrel) maintains these implementations with the official
repositories' class names, arguments and state-dict keys, which is what lets chaiNNer, ComfyUI and spandrel's
``ModelLoader`` load a trained file. The classes are registered as they are, so an option file reads
``network_g: {type: DAT, upscale: 4, embed_dim: 180, ...}`` with the official argument names, the registry checks
those against the constructor's signature, and the saved state dict is the official layout.

Each entry carries the registry metadata the tests, the listing (``python -m basicsr.archs``) and the benchmark
read: ``tiny_config`` (a few channels and blocks, for tests), ``official_config`` (the paper's or official
repository's standard x4 configuration; the source is named beside it), ``licence`` (of the network's own
repository), ``input_multiple`` (what height and width must be multiples of; most of these networks pad internally)
and ``unused_parameters`` (parameters that get no gradient: DDP needs ``find_unused_parameters``). The networks that
spandrel ships and the project implements itself (RRDBNet/ESRGAN, SRVGGNetCompact, SwinIR, HAT, SPAN, RCAN) are not
registered here; ours keep BasicSR's names and layouts.

Not registered: spandrel's SAFMNBCIE (a same-size compressed-image enhancer), MMRealSR (its forward returns a tuple,
no plain SR network), AuraSR (a GigaGAN with a style network, not trainable with the SR losses as is) and IPT (a
multi-task model run on fixed-size patches).
"""
import importlib
from typing import Any

from basicsr.utils.registry import ARCH_REGISTRY


def _window(default: int, key: str = 'window_size'):
    """input_multiple derived from a constructor argument (``window_size`` etc.), ``default`` when not given."""
    return lambda kwargs: int(kwargs.get(key, default))


# The classical-SR x4 setting the Swin-style networks (SwinIR, Swin2SR, SRFormer) publish, less the window size.
SWIN_X4 = {'upscale': 4, 'img_size': 64, 'img_range': 1.0, 'depths': [6] * 6, 'embed_dim': 180, 'num_heads': [6] * 6,
           'mlp_ratio': 2.0, 'upsampler': 'pixelshuffle', 'resi_connection': '1conv'}

# name: (spandrel architecture folder, metadata). Official configurations are x4 classical SR unless noted.
SPANDREL_NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    'ATD': ('ATD', dict(
        licence='MIT', input_multiple=1,
        tiny_config={'embed_dim': 12, 'depths': [2], 'num_heads': [2], 'window_size': 4, 'num_tokens': 8,
                     'reducted_dim': 4, 'upscale': 4, 'upsampler': 'pixelshuffle'},
        # ATD x4, official repository options/train/train_ATD_SRx4_finetune.yml
        official_config={'upscale': 4, 'embed_dim': 210, 'depths': [6, 6, 6, 6, 6, 6],
                         'num_heads': [6, 6, 6, 6, 6, 6], 'window_size': 16, 'category_size': 256, 'num_tokens': 128,
                         'reducted_dim': 20, 'convffn_kernel_size': 5, 'mlp_ratio': 2.0, 'upsampler': 'pixelshuffle',
                         'resi_connection': '1conv'})),
    'CRAFT': ('CRAFT', dict(
        licence='Apache-2.0', input_multiple=_window(16),
        tiny_config={'embed_dim': 12, 'depths': [1], 'num_heads': [2], 'window_size': 8, 'split_size_0': 2,
                     'split_size_1': 8, 'upscale': 4},
        # CRAFT x4 (the paper's and spandrel's defaults)
        official_config={'upscale': 4, 'embed_dim': 48, 'depths': [2, 2, 2, 2], 'num_heads': [6, 6, 6, 6],
                         'window_size': 16, 'split_size_0': 4, 'split_size_1': 16, 'mlp_ratio': 2.0})),
    'DAT': ('DAT', dict(
        licence='Apache-2.0', input_multiple=1,
        tiny_config={'embed_dim': 16, 'depth': [1], 'num_heads': [2], 'split_size': [2, 4], 'upscale': 4,
                     'expansion_factor': 2.0},
        # DAT x4, official repository options/Train/train_DAT_x4.yml
        official_config={'upscale': 4, 'img_size': 64, 'embed_dim': 180, 'depth': [6, 6, 6, 6, 6, 6],
                         'num_heads': [6, 6, 6, 6, 6, 6], 'expansion_factor': 4.0, 'split_size': [8, 32],
                         'resi_connection': '1conv'})),
    'DCTLSA': ('DCTLSA', dict(
        licence='MIT', input_multiple=1,
        tiny_config={'nf': 10, 'num_modules': 6, 'upscale': 4},  # forward needs 6 modules
        official_config={'in_nc': 3, 'out_nc': 3, 'nf': 55, 'num_modules': 6, 'num_head': 5, 'upscale': 4})),
    'DITN': ('DITN', dict(
        licence='MIT', input_multiple=_window(8, 'patch_size'),
        tiny_config={'dim': 8, 'ITL_blocks': 1, 'SAL_blocks': 1, 'UFONE_blocks': 1, 'upscale': 4},
        # DITN x4 (the official repository's real-time model)
        official_config={'dim': 60, 'ITL_blocks': 4, 'SAL_blocks': 4, 'UFONE_blocks': 1, 'ffn_expansion_factor': 2,
                         'patch_size': 8, 'upscale': 4})),
    'DRCT': ('DRCT', dict(
        licence='MIT', input_multiple=_window(16),
        tiny_config={'embed_dim': 12, 'depths': [1], 'num_heads': [2], 'window_size': 4, 'gc': 4, 'upscale': 4,
                     'upsampler': 'pixelshuffle'},
        # DRCT x4, official repository options/train/train_DRCT_SRx4_finetune_from_ImageNet_pretrain.yml
        official_config={'upscale': 4, 'img_size': 64, 'window_size': 16, 'embed_dim': 180,
                         'depths': [6, 6, 6, 6, 6, 6], 'num_heads': [6, 6, 6, 6, 6, 6], 'mlp_ratio': 2.0,
                         'upsampler': 'pixelshuffle', 'resi_connection': '1conv', 'gc': 32})),
    'FDAT': ('FDAT', dict(
        licence='MIT', input_multiple=1, unused_parameters=True,
        tiny_config={'embed_dim': 12, 'num_groups': 1, 'depth_per_group': 1, 'num_heads': 2, 'window_size': 4,
                     'mid_dim': 8, 'scale': 4},
        official_config={'scale': 4, 'embed_dim': 120, 'num_groups': 4, 'depth_per_group': 3, 'num_heads': 4,
                         'window_size': 8})),
    'GRL': ('GRL', dict(
        licence='MIT', input_multiple=1,
        tiny_config={'embed_dim': 12, 'depths': [1], 'num_heads_window': [1], 'num_heads_stripe': [1],
                     'window_size': 32, 'stripe_size': [64, 64], 'stripe_shift': True, 'anchor_window_down_factor': 4,
                     'upscale': 4, 'upsampler': 'pixelshuffle', 'mlp_ratio': 2.0},
        # GRL-B x4 (official repository's model zoo)
        official_config={'upscale': 4, 'img_size': 64, 'embed_dim': 180, 'depths': [4, 4, 8, 8, 8, 4, 4],
                         'num_heads_window': [3] * 7, 'num_heads_stripe': [3] * 7, 'window_size': 32,
                         'stripe_size': [64, 64], 'stripe_shift': True, 'mlp_ratio': 2.0,
                         'anchor_window_down_factor': 4, 'local_connection': True, 'upsampler': 'pixelshuffle'})),
    'MoESR': ('MoESR', dict(
        licence='MIT', input_multiple=1,
        tiny_config={'dim': 8, 'n_blocks': 1, 'n_block': 1, 'upsample_dim': 8, 'scale': 4},
        official_config={'scale': 4, 'dim': 64, 'n_blocks': 9, 'n_block': 4})),
    'MoSR': ('MoSR', dict(
        licence='MIT', input_multiple=1,
        tiny_config={'dim': 8, 'n_block': 1, 'upscale': 4},
        official_config={'upscale': 4, 'n_block': 24, 'dim': 64})),
    'OmniSR': ('OmniSR', dict(
        licence='MIT', input_multiple=1,
        tiny_config={'num_feat': 8, 'block_num': 1, 'window_size': 4, 'res_num': 1, 'up_scale': 4},
        # OmniSR x4, official repository option_files (num_feat 64, res_num 5, window 8)
        official_config={'num_feat': 64, 'block_num': 1, 'pe': True, 'window_size': 8, 'res_num': 5,
                         'up_scale': 4, 'bias': True})),
    'PLKSR': ('PLKSR', dict(
        licence='MIT', input_multiple=1,
        tiny_config={'dim': 8, 'n_blocks': 1, 'kernel_size': 5, 'upscaling_factor': 4},
        official_config={'dim': 64, 'n_blocks': 28, 'kernel_size': 17, 'split_ratio': 0.25, 'upscaling_factor': 4})),
    'RealPLKSR': ('PLKSR', dict(
        licence='Apache-2.0', input_multiple=1,
        tiny_config={'dim': 8, 'n_blocks': 1, 'kernel_size': 5, 'upscaling_factor': 4},
        # neosr's realplksr (its defaults)
        official_config={'dim': 64, 'n_blocks': 28, 'kernel_size': 17, 'split_ratio': 0.25, 'use_ea': True,
                         'norm_groups': 4, 'upscaling_factor': 4})),
    'RGT': ('RGT', dict(
        licence='Apache-2.0', input_multiple=1,
        tiny_config={'embed_dim': 12, 'depth': [1], 'num_heads': [2], 'split_size': [2, 4], 'upscale': 4},
        # RGT x4, official repository options/Train/train_RGT_x4.yml
        official_config={'upscale': 4, 'img_size': 64, 'embed_dim': 180, 'depth': [6, 6, 6, 6, 6, 6, 6, 6],
                         'num_heads': [6, 6, 6, 6, 6, 6, 6, 6], 'mlp_ratio': 2.0, 'split_size': [8, 32],
                         'c_ratio': 0.5, 'resi_connection': '1conv'})),
    # Real-CUGAN (bilibili): fixed networks, one class per scale; inputs of at least 32 (40 for the fast one) px
    'UpCunet2x': ('RealCUGAN', dict(licence='MIT', input_multiple=1, min_size=32,
                                     tiny_config={}, official_config={})),
    'UpCunet3x': ('RealCUGAN', dict(licence='MIT', input_multiple=1, min_size=32,
                                     tiny_config={}, official_config={})),
    'UpCunet4x': ('RealCUGAN', dict(licence='MIT', input_multiple=1, min_size=32,
                                     tiny_config={}, official_config={})),
    'UpCunet2x_fast': ('RealCUGAN', dict(licence='MIT', input_multiple=4, min_size=40,
                                          tiny_config={}, official_config={})),
    'SAFMN': ('SAFMN', dict(
        licence='MIT', input_multiple=8,
        tiny_config={'dim': 8, 'n_blocks': 1, 'upscaling_factor': 4},
        # SAFMN x4, official repository options/train/SAFMN/train_DF2K_x4.yml
        official_config={'dim': 36, 'n_blocks': 8, 'ffn_scale': 2.0, 'upscaling_factor': 4})),
    'SeemoRe': ('SeemoRe', dict(
        licence='MIT', input_multiple=1,
        tiny_config={'embedding_dim': 8, 'num_layers': 1, 'num_experts': 2, 'scale': 4},
        # SeemoRe-T x4, official repository options
        official_config={'scale': 4, 'embedding_dim': 36, 'num_layers': 6, 'num_experts': 3, 'use_shuffle': True,
                         'global_kernel_size': 11, 'recursive': 2, 'lr_space': 'exp', 'topk': 1})),
    'Swin2SR': ('Swin2SR', dict(
        licence='Apache-2.0', input_multiple=1,
        tiny_config={'embed_dim': 12, 'depths': [1], 'num_heads': [2], 'window_size': 4, 'upscale': 4,
                     'upsampler': 'pixelshuffle', 'mlp_ratio': 2.0},
        # Swin2SR classical x4, official repository main_test_swin2sr.py
        official_config={**SWIN_X4, 'window_size': 8})),
    'SwiftSRGAN': ('SwiftSRGAN', dict(
        licence='CC0-1.0', input_multiple=1, unused_parameters=True,
        tiny_config={'num_channels': 8, 'num_blocks': 1, 'upscale_factor': 4},
        official_config={'num_channels': 64, 'num_blocks': 16, 'upscale_factor': 4})),
}

# spandrel-extra-arches (pip install basicsr[extra-arches]): networks under non-commercial licences.
EXTRA_NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    'SRFormer': ('SRFormer', dict(
        licence='CC BY-NC 4.0', input_multiple=1,
        tiny_config={'embed_dim': 12, 'depths': [1], 'num_heads': [2], 'window_size': 4, 'upscale': 4,
                     'upsampler': 'pixelshuffle', 'mlp_ratio': 2.0},
        # SRFormer x4, official repository options/train/SRFormer/train_SRFormer_SRx4_scratch.yml
        official_config={**SWIN_X4, 'window_size': 22})),
}


def register_networks(package: str, networks: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """Register the classes ``networks`` names from ``package``'s architecture folders, with their metadata and
    ``source`` (the package) and ``spandrel_arch`` (the architecture spandrel's loader detects)."""
    for name, (folder, info) in networks.items():
        module = importlib.import_module(f'{package}.architectures.{folder}')
        ARCH_REGISTRY.register(getattr(module, name), name=name, kind='sr', source=package.replace('_', '-'),
                               spandrel_arch=folder, **info)


register_networks('spandrel', SPANDREL_NETWORKS)
try:
    import spandrel_extra_arches  # noqa: F401  (optional: pip install spandrel-extra-arches)
except ImportError:
    pass
else:
    register_networks('spandrel_extra_arches', EXTRA_NETWORKS)
