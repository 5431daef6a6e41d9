"""Set up a local virtual environment and run the demo training or the test-suite, in one command:

    python scripts/quickstart.py demo     # trains the demo MSRResNet x4 on the CPU (or a GPU) in a few minutes
    python scripts/quickstart.py test     # runs the test-suite (arguments after 'test' go to pytest instead)

Needs only Python 3.10+ with pip. The environment is ``.venv`` in the repository (``BASICSR_VENV`` to put it
elsewhere); it is created on first use and the project is installed into it (``pip install -e .``, plus the
``test`` and ``export`` extras for the tests). Later runs reuse it and reinstall only when setup.py or
requirements.txt changed. Only the standard library is used here, so this runs before anything is installed.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_OPTIONS = 'options/demo/train_msrresnet_x4_demo.yml'
EXTRAS = {'demo': '', 'test': '[test,export]'}


def venv_python(folder: Path) -> Path:
    return folder / ('Scripts/python.exe' if os.name == 'nt' else 'bin/python')


def ensure_environment(folder: Path, extras: str) -> Path:
    """The Python of a virtual environment in ``folder`` with the project (and ``extras``) installed."""
    python = venv_python(folder)
    if not python.exists():
        print(f'quickstart: creating the virtual environment {folder}', flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(folder)
        except (OSError, subprocess.CalledProcessError) as err:
            sys.exit(f'quickstart: cannot create a virtual environment in {folder} ({err}). On Debian/Ubuntu '
                     'install python3-venv first, or set BASICSR_VENV to a writable folder.')
    stamp = folder / f'.basicsr-installed{extras.replace(",", "-")}'
    wanted = _install_fingerprint(extras)
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f'quickstart: installing the project{extras} into {folder} (the first time takes a few minutes: '
              'PyTorch is large)', flush=True)
        _run([str(python), '-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-e', f'.{extras}'])
        stamp.write_text(wanted)
    return python


def _install_fingerprint(extras: str) -> str:
    digest = hashlib.sha256(extras.encode())
    for name in ('setup.py', 'requirements.txt'):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _run(command: list[str]) -> None:
    status = subprocess.call(command, cwd=ROOT)
    if status:
        sys.exit(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('what', choices=sorted(EXTRAS), help='demo: train the demo model; test: run the tests')
    parser.add_argument('args', nargs=argparse.REMAINDER,
                        help='passed on: to pytest (test) or to train.py (demo), e.g. --force_yml ...')
    args = parser.parse_args(argv)
    folder = Path(os.environ.get('BASICSR_VENV', ROOT / '.venv')).resolve()
    python = ensure_environment(folder, EXTRAS[args.what])
    if args.what == 'demo':
        command = [str(python), 'train.py', '-opt', DEMO_OPTIONS, *args.args]
    else:
        command = [str(python), '-m', 'pytest', '-q', *(args.args or ['tests'])]  # pytest.ini: testpaths = tests
    print('quickstart: ' + ' '.join(command[1:]), flush=True)
    return subprocess.call(command, cwd=ROOT)


if __name__ == '__main__':
    sys.exit(main())
