"""What ``pip install .`` relies on: every module inside a package, and the ``python -m`` entry points."""
import runpy
import sys
from pathlib import Path

import pytest
from setuptools import find_packages

import basicsr

REPO = Path(__file__).resolve().parents[1]


def test_every_module_folder_is_a_package_that_setup_installs():
    folders = {p.parent for p in (REPO / 'basicsr').rglob('*.py') if '__pycache__' not in p.parts}
    packages = set(find_packages(str(REPO), include=['basicsr', 'basicsr.*']))
    expected = {'.'.join(folder.relative_to(REPO).parts) for folder in folders}
    assert expected == packages, f'folders without __init__.py are not installed: {sorted(expected - packages)}'


def test_version_is_exposed():
    assert basicsr.__version__.count('.') >= 2 and basicsr.__version__[0].isdigit()


@pytest.mark.parametrize('module', ['basicsr.train', 'basicsr.test'])
@pytest.mark.filterwarnings('ignore:.*found in sys.modules:RuntimeWarning')  # runpy re-running an imported module
def test_python_dash_m_entry_points_run(module, monkeypatch, capsys):
    """What ``python -m basicsr.train -h`` runs (the module's ``__main__`` block), in this process for speed."""
    monkeypatch.setattr(sys, 'argv', [module, '-h'])
    with pytest.raises(SystemExit) as done:
        runpy.run_module(module, run_name='__main__')
    assert done.value.code == 0
    usage = capsys.readouterr().out
    assert '-opt OPT' in usage and '--force_yml' in usage
