"""basicsr: a YAML-driven training framework for image super-resolution."""
import basicsr.safe_path  # noqa: F401  (first: ``python -m basicsr.train`` never imports from the working folder)
from basicsr.utils.image_header import configure_decoder_limit
from basicsr.version import __version__

configure_decoder_limit()  # before any module of the package loads OpenCV, which reads its limit once

__all__ = ['__version__']
