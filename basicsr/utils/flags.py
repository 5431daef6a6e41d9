"""The command-line flags of the entry points, without importing torch (``python train.py -h`` answers at once)."""
import argparse

LAUNCHERS = ('none', 'pytorch', 'slurm')


def build_arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('-opt', required=True, help='path to the option YAML file')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='distributed launcher')
    parser.add_argument('--auto_resume', action='store_true', help='resume from the newest complete checkpoint')
    parser.add_argument('--debug', action='store_true', help="prefix the name with 'debug_' (short frequencies)")
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)  # passed by torch.distributed.launch
    parser.add_argument('--lenient', action='store_true',
                        help='ignore unknown option keys with one warning, as BasicSR does (default: refuse them)')
    parser.add_argument('--force_yml', nargs='+', default=[], metavar='KEY:KEY=VALUE',
                        help='override options, e.g. train:total_iter=100 path:resume_state=~')
    return parser


TRAIN_DESCRIPTION = ('Train a model: python train.py -opt options/X.yml [--auto_resume] [--debug] '
                     '[--force_yml key:key=value ...]')
TEST_DESCRIPTION = 'Test a model: python test.py -opt options/test_X.yml [--force_yml key:key=value ...]'


def parse_args(argv: list[str] | None, is_train: bool) -> argparse.Namespace:
    """The parsed flags (``-h`` and flag errors exit here, before anything heavy is imported)."""
    return build_arg_parser(TRAIN_DESCRIPTION if is_train else TEST_DESCRIPTION).parse_args(argv)
