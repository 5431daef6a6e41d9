"""Test a model: ``python test.py -opt options/test_rrdb.yml`` (see ``basicsr/test.py``)."""
import sys
from pathlib import Path

from basicsr.test import main

if __name__ == '__main__':
    sys.exit(main(root_path=str(Path(__file__).resolve().parent)))
