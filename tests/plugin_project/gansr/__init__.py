# A Real-ESRGAN-style plug-in: importing the package registers its networks (first) and its model.
from . import archs  # noqa: F401
from . import models  # noqa: F401
