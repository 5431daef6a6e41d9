"""Train a model: ``python train.py -opt options/esrgan_x4.yml`` (see ``basicsr/utils/flags.py`` for the flags)."""
import sys
from pathlib import Path

from basicsr.utils.flags import parse_args

if __name__ == '__main__':
    parse_args(sys.argv[1:], is_train=True)  # -h and flag errors answer before torch is imported
    from basicsr.train import main
    sys.exit(main(root_path=str(Path(__file__).resolve().parent)))
