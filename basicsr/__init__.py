"""basicsr: a YAML-driven training framework for image super-resolution."""
from basicsr.version import __version__

__all__ = ['__version__']
