"""Build the demo data set (scikit-image photographs as HR, bicubic LR x2/x3/x4, sub-images).

    python scripts/prepare_demo_data.py [--root datasets/demo]

The demo option files call the same code when the folder is missing, so running this first is optional.
"""
import argparse

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.data.demo_data import prepare_demo_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--root', default='datasets/demo', help='folder to create (default: datasets/demo)')
    args = parser.parse_args(argv)
    root = prepare_demo_data(args.root)
    print(f'Demo data set ready in {root}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
