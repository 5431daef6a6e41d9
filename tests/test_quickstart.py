"""scripts/quickstart.py without real environments: subprocess, venv and the network are stand-ins."""
import importlib.util
import socket
import subprocess
import types
from pathlib import Path

import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location('quickstart', ROOT / 'scripts' / 'quickstart.py')
quickstart = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quickstart)


class FakeShell:
    """Records every command; ``import torch`` fails unless ``torch_present``; pip fails for ``failing`` args."""

    def __init__(self, torch_present: bool = False, failing: str | None = None, version: str = '2.5.1+cpu'):
        self.commands: list[list[str]] = []
        self.torch_present, self.failing, self.version = torch_present, failing, version

    def call(self, command, cwd=None):
        self.commands.append(list(command))
        if command[1:] == ['-c', 'import torch']:
            return 0 if self.torch_present else 1
        return 1 if self.failing and self.failing in command else 0

    def run(self, command, **kwargs):
        return subprocess.CompletedProcess(command, 0, stdout=self.version + '\n', stderr='')

    @property
    def pip_installs(self) -> list[list[str]]:
        return [c for c in self.commands if c[1:4] == ['-m', 'pip', 'install']]


@pytest.fixture
def shell(monkeypatch):
    def install(gpu: bool = False, reachable: bool = True, **kwargs) -> FakeShell:
        fake = FakeShell(**kwargs)
        monkeypatch.setattr(quickstart, 'subprocess', types.SimpleNamespace(
            call=fake.call, run=fake.run, CalledProcessError=subprocess.CalledProcessError))
        monkeypatch.setattr(quickstart, 'has_nvidia_gpu', lambda: gpu)
        monkeypatch.setattr(quickstart, 'index_reachable', lambda url: reachable)
        monkeypatch.setattr(quickstart.sys, 'platform', 'linux')
        return fake
    return install


def test_an_empty_basicsr_venv_is_refused_in_one_line(monkeypatch, shell):
    fake = shell()
    made = []
    monkeypatch.setattr(quickstart.venv, 'EnvBuilder', lambda **kw: made.append(kw))
    monkeypatch.setenv('BASICSR_VENV', '  ')
    with pytest.raises(SystemExit) as stopped:
        quickstart.main(['demo'])
    assert stopped.value.code == ('quickstart: BASICSR_VENV is set but empty; unset it to use .venv, '
                                  'or name a folder.')
    assert made == [] and fake.commands == []


def test_basicsr_venv_expands_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    assert quickstart.venv_folder({'BASICSR_VENV': '~/envs/sr'}) == tmp_path / 'envs' / 'sr'
    assert quickstart.venv_folder({}) == ROOT / '.venv'


def test_without_a_gpu_the_cpu_build_is_installed_and_named(shell, capsys):
    fake = shell(gpu=False, reachable=True)
    quickstart.install_torch(Path('/env/bin/python'))
    assert fake.pip_installs == [['/env/bin/python', *quickstart.PIP_INSTALL, 'torch', 'torchvision',
                                  '--index-url', quickstart.CPU_INDEX]]
    out = capsys.readouterr().out
    assert 'no NVIDIA GPU found; installing the CPU build' in out
    assert 'quickstart: installed PyTorch 2.5.1+cpu (CPU build)' in out


def test_an_unreachable_cpu_index_falls_back_to_the_default_with_a_message(shell, capsys):
    fake = shell(gpu=False, reachable=False, version='2.5.1 12.4')
    quickstart.install_torch(Path('/env/bin/python'))
    assert fake.pip_installs == [['/env/bin/python', *quickstart.PIP_INSTALL, 'torch', 'torchvision']]
    out = capsys.readouterr().out
    assert f'{quickstart.CPU_INDEX} (the CPU build) cannot be reached' in out
    assert 'installed PyTorch 2.5.1 (CUDA 12.4 build)' in out


def test_a_failed_cpu_install_is_retried_from_the_default_index(shell, capsys):
    fake = shell(gpu=False, reachable=True, failing='--index-url')
    quickstart.install_torch(Path('/env/bin/python'))
    assert [('--index-url' in c) for c in fake.pip_installs] == [True, False]
    assert 'the CPU build could not be installed' in capsys.readouterr().out


def test_with_a_gpu_or_torch_present_no_cpu_build_is_asked_for(shell):
    fake = shell(gpu=True, version='2.5.1 12.4')
    quickstart.install_torch(Path('/env/bin/python'))
    assert len(fake.pip_installs) == 1 and '--index-url' not in fake.pip_installs[0]
    fake = shell(torch_present=True)
    quickstart.install_torch(Path('/env/bin/python'))
    assert fake.pip_installs == []


def test_a_new_environment_gets_torch_before_the_project_and_is_reused(monkeypatch, shell, tmp_path):
    fake = shell(gpu=False, reachable=True)

    class Builder:
        def __init__(self, with_pip):
            assert with_pip

        def create(self, folder):
            python = quickstart.venv_python(Path(folder))
            python.parent.mkdir(parents=True)
            python.write_text('')

    monkeypatch.setattr(quickstart.venv, 'EnvBuilder', Builder)
    python = quickstart.ensure_environment(tmp_path / 'env', '[test,export]')
    installs = fake.pip_installs
    assert [c[-1] for c in installs] == [quickstart.CPU_INDEX, '.[test,export]']
    assert installs[1][0] == str(python)
    fake.commands.clear()
    quickstart.ensure_environment(tmp_path / 'env', '[test,export]')  # unchanged setup.py: nothing to do
    assert fake.commands == []


def test_index_reachable_is_false_for_a_closed_port():
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    assert quickstart.index_reachable(f'http://127.0.0.1:{port}/whl/cpu', timeout=2) is False
