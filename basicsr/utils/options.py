"""BasicSR's module path ``basicsr.utils.options``: a thin re-export of the option layer, :mod:`basicsr.config`."""
from basicsr.config import copy_opt_file, dict2str, parse_options, save_options  # noqa: F401
from basicsr.config.load import (MAX_OPTION_FILE_BYTES, MAX_OPTION_NODES, apply_overrides, load_yaml,  # noqa: F401
                                 ordered_yaml)
from basicsr.config.resolve import DATASET_PATH_KEYS  # noqa: F401
from basicsr.utils.dist_util import get_dist_info, init_dist, master_only  # noqa: F401
from basicsr.utils.misc import set_random_seed  # noqa: F401
from basicsr.utils.option_schema import model_schema, with_defaults  # noqa: F401
