"""Console entry points (``basicsr-train``, ``basicsr-test``): the flags are checked before torch is imported."""
import sys

from basicsr.utils.flags import parse_args


def train_main() -> int:
    """``basicsr-train``."""
    parse_args(sys.argv[1:], is_train=True)
    from basicsr.train import main
    return main()


def test_main() -> int:
    """``basicsr-test``."""
    parse_args(sys.argv[1:], is_train=False)
    from basicsr.test import main
    return main()
