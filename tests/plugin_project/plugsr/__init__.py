# Importing the package registers its plug-ins, as in BasicSR-based repositories.
from .plug_arch import *  # noqa: F401,F403
from .plug_dataset import *  # noqa: F401,F403
from .plug_model import *  # noqa: F401,F403
