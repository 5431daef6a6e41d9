"""Download published weights from their official release locations, checked against their SHA-256.

    python scripts/download_pretrained_models.py --list
    python scripts/download_pretrained_models.py ESRGAN                  # RRDB_ESRGAN_x4.pth + RRDB_PSNR_x4.pth
    python scripts/download_pretrained_models.py RRDB_PSNR_x4.pth VGG    # a file, a group
    python scripts/download_pretrained_models.py --all

Networks go to ``experiments/pretrained_models/`` of this repository (whatever the current folder), under the names
the option files use; torchvision's VGG weights go to ``$TORCH_HOME/hub/checkpoints/`` and NIQE's pristine model to
``$TORCH_HOME/hub/basicsr/``, where the perceptual loss and the NIQE metric look for them. ``--dir`` puts the
selected files elsewhere. A file already present that passes its check is kept; one that fails it is downloaded
again. A download is written under its name only when complete and verified (see ``--list`` for what is checked).
"""
import argparse
import sys

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.utils.download_util import download_remote_file
from basicsr.utils.known_files import WEIGHTS, RemoteFile, all_weight_files, default_folder


def select(names: list[str], everything: bool) -> list[RemoteFile]:
    """The files named (group names or file names, case-insensitive, with or without extension), in order."""
    if everything:
        return [f for _, f in all_weight_files()]
    groups = {group.lower(): files for group, files in WEIGHTS.items()}
    files = {key.lower(): f for _, f in all_weight_files() for key in (f.name, f.name.rsplit('.', 1)[0])}
    chosen: list[RemoteFile] = []
    for name in names:
        found = groups.get(name.lower()) or ((files[name.lower()],) if name.lower() in files else None)
        if found is None:
            raise SystemExit(f'{name}: not a known group or file; the groups are {", ".join(WEIGHTS)} '
                             '(--list shows the files).')
        chosen += [f for f in found if f not in chosen]
    return chosen


def listing() -> str:
    lines = []
    for group, files in WEIGHTS.items():
        lines.append(f'{group}:')
        for f in files:
            check = ('SHA-256' if len(f.check) == 64 else f'SHA-256 prefix {f.check}') if f.check else 'unverified'
            lines.append(f'  {f.name:48s} {check:24s} {f.note} -> {default_folder(f)}')
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('names', nargs='*', metavar='NAME', help=f'groups ({", ".join(WEIGHTS)}) or file names')
    parser.add_argument('--all', action='store_true', help='every known file')
    parser.add_argument('--list', action='store_true', help='list the known files and exit')
    parser.add_argument('--dir', help='write the selected files into this folder instead of their usual places')
    parser.add_argument('--timeout', type=float, default=60, help='seconds without data before giving up')
    parser.add_argument('--no-progress', dest='progress', action='store_false', help='no progress bars')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        print(listing())
        return 0
    if not args.names and not args.all:
        raise SystemExit('name the groups or files to download (or --all); --list shows them.')
    try:
        for f in select(args.names, args.all):
            path, fetched = download_remote_file(f, args.dir, args.progress, args.timeout)
            note = '' if f.check else ' (no published hash: not verified)'
            print(f'{"downloaded" if fetched else "present"}: {path}{note}', flush=True)
    except KeyboardInterrupt:
        print('interrupted: nothing partial was kept; run the same command again to continue.', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
