"""BasicSR 1.4's module path for the BT.601 colour conversions (1.3.x had them in ``matlab_functions``, which
still holds the implementation)."""
from basicsr.utils.matlab_functions import bgr2ycbcr, rgb2ycbcr, rgb2ycbcr_pt, ycbcr2bgr, ycbcr2rgb

__all__ = ['bgr2ycbcr', 'rgb2ycbcr', 'rgb2ycbcr_pt', 'ycbcr2bgr', 'ycbcr2rgb']
