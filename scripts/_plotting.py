"""matplotlib for the figure scripts (plot_logs, compare): imported on first use, drawing off-screen."""
from types import ModuleType

from basicsr.utils.errors import BasicSRError


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` with the file-only Agg back-end (no display needed); a clear error without it."""
    try:
        import matplotlib
    except ImportError as err:
        raise BasicSRError('drawing figures needs matplotlib (pip install matplotlib).') from err
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    return plt
