"""Set up a local virtual environment and run the demo training or the test-suite, in one command:

    python scripts/quickstart.py demo     # trains the demo MSRResNet x4 (about 5 min on a 2-core CPU)
    python scripts/quickstart.py test     # runs the test-suite, which also builds the documentation site
                                          # (arguments after 'test' go to pytest instead of 'tests')

Needs only Python 3.10+ with pip. The environment is ``.venv`` in the repository (``BASICSR_VENV`` to put it
elsewhere; ``~`` is expanded); it is created on first use and the project is installed into it (``pip install -e
.``, plus the ``test`` and ``export`` extras for the tests). On a machine without an NVIDIA GPU, PyTorch's CPU build
is installed first when its package index can be reached (the default build bundles CUDA: several GB). Later runs
reuse the environment and reinstall only when setup.py or requirements.txt changed. Only the standard library is
used here, so this runs before anything is installed.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_OPTIONS = 'options/demo/train_msrresnet_x4_demo.yml'
EXTRAS = {'demo': '', 'test': '[test,export]'}
CPU_INDEX = 'https://download.pytorch.org/whl/cpu'
PIP_INSTALL = ('-m', 'pip', 'install', '--disable-pip-version-check', '-q')


def venv_folder(environ: dict[str, str] | os._Environ) -> Path:
    """The environment's folder: ``BASICSR_VENV`` (``~`` expanded) or ``.venv`` in the repository; an empty
    ``BASICSR_VENV`` is refused rather than taken as the current folder."""
    if 'BASICSR_VENV' not in environ:
        return ROOT / '.venv'
    value = environ['BASICSR_VENV'].strip()
    if not value:
        sys.exit('quickstart: BASICSR_VENV is set but empty; unset it to use .venv, or name a folder.')
    return Path(value).expanduser().resolve()


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
        install_torch(python)
        print(f'quickstart: installing the project{extras} into {folder}', flush=True)
        _run([str(python), *PIP_INSTALL, '-e', f'.{extras}'])
        stamp.write_text(wanted)
    return python


def has_nvidia_gpu() -> bool:
    """Whether an NVIDIA driver is present (the CUDA build of PyTorch is then worth its size)."""
    return shutil.which('nvidia-smi') is not None or Path('/proc/driver/nvidia/version').exists()


def index_reachable(url: str, timeout: float = 10.0) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(f'{url}/torch/', method='HEAD'), timeout=timeout):
            return True
    except (OSError, ValueError):  # URLError, HTTPError, timeouts and refused connections are OSErrors
        return False


def install_torch(python: Path) -> None:
    """Install PyTorch into the environment unless it has it: the CPU build where no NVIDIA GPU is present and
    :data:`CPU_INDEX` answers, else the package index's default build; then say which build was installed."""
    if _succeeds([str(python), '-c', 'import torch']):
        return
    command = [str(python), *PIP_INSTALL, 'torch', 'torchvision']
    if has_nvidia_gpu() or sys.platform == 'darwin':  # macOS wheels are CPU/MPS builds anyway
        print('quickstart: installing PyTorch from the default package index', flush=True)
        _run(command)
    elif not index_reachable(CPU_INDEX):
        print(f'quickstart: no NVIDIA GPU found, but {CPU_INDEX} (the CPU build) cannot be reached; installing '
              'PyTorch from the default package index instead (on Linux that build bundles CUDA: several GB)',
              flush=True)
        _run(command)
    else:
        print(f'quickstart: no NVIDIA GPU found; installing the CPU build of PyTorch from {CPU_INDEX}', flush=True)
        if not _succeeds([*command, '--index-url', CPU_INDEX]):
            print('quickstart: the CPU build could not be installed; installing PyTorch from the default package '
                  'index instead', flush=True)
            _run(command)
    print(f'quickstart: installed {torch_build(python)}', flush=True)


def torch_build(python: Path) -> str:
    """'PyTorch 2.5.1+cpu (CPU build)' or '... (CUDA 12.4 build)', as the environment's torch reports itself."""
    probe = 'import torch; print(torch.__version__, torch.version.cuda or "")'
    done = subprocess.run([str(python), '-c', probe], cwd=ROOT, capture_output=True, text=True)
    fields = done.stdout.split()
    if done.returncode or not fields:
        return 'PyTorch (its version could not be read)'
    version, cuda = fields[0], fields[1] if len(fields) > 1 else ''
    return f'PyTorch {version} ({f"CUDA {cuda}" if cuda else "CPU"} build)'


def _install_fingerprint(extras: str) -> str:
    digest = hashlib.sha256(extras.encode())
    for name in ('setup.py', 'requirements.txt'):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _succeeds(command: list[str]) -> bool:
    return subprocess.call(command, cwd=ROOT) == 0


def _run(command: list[str]) -> None:
    status = subprocess.call(command, cwd=ROOT)
    if status:
        sys.exit(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('what', choices=sorted(EXTRAS),
                        help='demo: train the demo model; test: run the tests')
    parser.add_argument('args', nargs=argparse.REMAINDER,
                        help='passed on: to pytest (test) or to train.py (demo), e.g. --force_yml ...')
    args = parser.parse_args(argv)
    python = ensure_environment(venv_folder(os.environ), EXTRAS[args.what])
    if args.what == 'demo':
        command = [str(python), 'train.py', '-opt', DEMO_OPTIONS, *args.args]
    else:  # tests/test_docs.py builds the documentation site with mkdocs build --strict
        command = [str(python), '-m', 'pytest', '-q', *(args.args or ['tests'])]  # pytest.ini: testpaths = tests
    print('quickstart: ' + ' '.join(command[1:]), flush=True)
    return subprocess.call(command, cwd=ROOT)


if __name__ == '__main__':
    sys.exit(main())
