"""Train a model: ``python train.py -opt options/esrgan_x4.yml`` (see ``basicsr/train.py`` for the flags)."""
import sys
from pathlib import Path

from basicsr.train import main

if __name__ == '__main__':
    sys.exit(main(root_path=str(Path(__file__).resolve().parent)))
