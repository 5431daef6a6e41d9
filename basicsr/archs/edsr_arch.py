"""EDSR (Lim et al., CVPRW 2017): a deep stack of residual blocks without batch normalisation, BasicSR's key names
and arguments.

Also loads the layout of the authors' EDSR-PyTorch files (``edsr_x4-4f62e9ef.pt`` and the baselines), whose mean
shift is two 1x1 convolutions; here it is a fixed mean, so those must hold this network's ``rgb_mean``.
"""
from basicsr.archs.arch_util import MeanShiftedResidualSR, ResidualBlockNoBN, make_layer
from basicsr.archs.arch_util import Upsample  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.archs.rcan_arch import DIV2K_RGB_MEAN
from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register(
    kind='sr', source='basicsr', licence='Apache-2.0',
    tiny_config={'num_feat': 8, 'num_block': 1},
    official_config={'num_feat': 256, 'num_block': 32, 'res_scale': 0.1, 'upscale': 4})  # EDSR-L x4
class EDSR(MeanShiftedResidualSR):
    """Enhanced Deep Super-Resolution network, laid out as BasicSR's ``EDSR``.

    The input (RGB in [0, 1]) has ``rgb_mean`` subtracted and is scaled by ``img_range``, as EDSR-PyTorch feeds
    [0, 255] images; the output is mapped back. The paper's two models: EDSR-baseline (64 features, 16 blocks,
    ``res_scale`` 1, the defaults) and EDSR (256 features, 32 blocks, ``res_scale`` 0.1).

    Args:
        num_in_ch / num_out_ch: image channels (``rgb_mean`` has one value per channel).
        num_feat: feature channels. num_block: residual blocks. upscale: 2, 3, 4 or 8.
        res_scale: scale of each block's residual branch (0.1 keeps the wide model stable).
        img_range: pixel range the convolutions work in. rgb_mean: pixel mean of the training set (DIV2K).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16,
                 upscale: int = 4, res_scale: float = 1.0, img_range: float = 255.0,
                 rgb_mean: tuple[float, ...] = DIV2K_RGB_MEAN) -> None:
        super().__init__('EDSR', num_in_ch, num_out_ch, num_feat, upscale, img_range, rgb_mean)
        # PyTorch's default initialisation, as BasicSR's EDSR and EDSR-PyTorch use
        self.body = make_layer(ResidualBlockNoBN, num_block, num_feat=num_feat, res_scale=res_scale,
                               pytorch_init=True)
