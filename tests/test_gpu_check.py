"""scripts/gpu_check.sh and gpu_check.py without a GPU: arguments, the JSON report, skipping, failures and time
limits of parts, the parts' code on the CPU at tiny sizes, and the wheel install of the wrapper."""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / 'scripts'
sys.path.insert(0, str(SCRIPTS))

import gpu_check  # noqa: E402

def _run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, 'PYTHON': sys.executable, **env})


def test_help_lists_the_parts_and_the_output():
    result = _run(['bash', str(SCRIPTS / 'gpu_check.sh'), '--help'])
    assert result.returncode == 0, result.stderr
    for word in ['--out', '--quick', '--cpu', '--time-limit', *gpu_check.PARTS, 'gpu_check.json']:
        assert word in result.stdout
    wheels = _run(['bash', str(SCRIPTS / 'gpu_check_wheels.sh'), '--help'])
    assert wheels.returncode == 0 and '--have FILE' in wheels.stdout and '.gpu_wheels/' in wheels.stdout


@pytest.mark.parametrize('args, message', [
    ([], '--out DIR is required'),
    (['--out', 'FILE'], 'exists and is not a folder'),
    (['--out', 'DIR', '--parts', 'train_everything'], "invalid choice: 'train_everything'"),
    (['--out', 'DIR', '--time-limit', '0'], '--time-limit: expected seconds in (0, 3600], got 0'),
])
def test_argument_errors_exit_2_with_a_message(tmp_path, args, message):
    (tmp_path / 'FILE').write_text('')
    args = [str(tmp_path / a) if a in ('FILE', 'DIR') else a for a in args]
    result = _run([sys.executable, str(SCRIPTS / 'gpu_check.py'), *args])
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / 'DIR').exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the behaviour without a GPU')
def test_without_a_gpu_every_part_is_skipped_with_one_line(tmp_path):
    out = tmp_path / 'out'
    result = _run(['bash', str(SCRIPTS / 'gpu_check.sh'), '--out', str(out)])
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((out / 'gpu_check.json').read_text())
    assert list(report['parts']) == list(gpu_check.PARTS)
    assert {part['status'] for part in report['parts'].values()} == {'skipped'}
    assert report['summary'] == {'ok': 0, 'failed': 0, 'timeout': 0, 'skipped': len(gpu_check.PARTS)}
    assert report['environment']['cuda_available'] is False and report['environment']['torch'] == torch.__version__
    lines = result.stdout.splitlines()
    for name, part in report['parts'].items():
        assert [line for line in lines if line.startswith(f'{name} ')] == [f'{name:<18} skipped: {part["reason"]}']
    assert 'no CUDA device' in report['parts']['train_rrdbnet']['reason']
    assert (out / 'gpu_check.log').is_file()


def test_a_failing_part_is_recorded_and_the_next_still_runs_within_its_budget(tmp_path, monkeypatch):
    fake_bin = tmp_path / 'bin'
    fake_bin.mkdir()
    smi = fake_bin / 'nvidia-smi'
    smi.write_text('#!/bin/sh\necho "NVIDIA-SMI has failed because it could not communicate with the driver" >&2\n'
                   'exit 9\n')
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / 'out'
    out.mkdir()
    parts = [gpu_check.PARTS['nvidia_smi'], gpu_check.Part('metrics', 0.5, True, 'too little time')]
    report = {'parts': {}}
    gpu_check.run_parts(parts, out, cuda=False, use_cpu=True, quick=True, time_limit=60, report=report)
    smi_entry, metrics_entry = report['parts']['nvidia_smi'], report['parts']['metrics']
    assert smi_entry['status'] == 'failed'
    assert smi_entry['error'] == ('RuntimeError: nvidia-smi exited with status 9: NVIDIA-SMI has failed because it '
                                  'could not communicate with the driver')
    assert metrics_entry['status'] == 'timeout' and metrics_entry['seconds'] < 5
    assert json.loads((out / 'gpu_check.json').read_text())['summary'] == {'ok': 0, 'failed': 1, 'timeout': 1,
                                                                           'skipped': 0}
    log = (out / 'gpu_check.log').read_text()
    assert '===== nvidia_smi' in log and 'Traceback' in log and '===== metrics' in log


@pytest.mark.parametrize('name', ['train_msrresnet', 'inference_rrdbnet'])
def test_the_parts_run_on_the_cpu_at_tiny_sizes(tmp_path, name):
    assert gpu_check.run_part_here(name, tmp_path, 'cpu', quick=True) == 0
    found = json.loads((tmp_path / f'{name}.json').read_text())
    assert found['error'] is None and found['failed_checks'] == [] and found['summary']
    rows = found['results']['rows']
    if name == 'train_msrresnet':
        assert [r['config'] for r in rows] == ['fp32', 'bf16', 'bf16 + channels_last',
                                               'bf16 + channels_last + compile']
        assert rows[-1] == {'config': 'bf16 + channels_last + compile', 'skipped': 'compile is left out with --quick'}
        assert all(r['iterations_per_s'] > 0 and 0 < r['final_loss'] < 1 for r in rows[:3])
        assert rows[0]['loss_relative_difference_to_fp32'] == 0 and rows[1]['loss_relative_difference_to_fp32'] > 0
    else:
        assert [r['config'] for r in rows] == ['fp32, whole', 'fp32, tiled', 'bf16, whole', 'bf16, tiled']
        assert all(r['output_shape'] == [1, 3, 64, 64] and r['seconds_per_image'] > 0 for r in rows)
        assert rows[0]['max_abs_difference_to_fp32_whole'] == 0 and rows[2]['psnr_to_fp32_whole_db'] > 20


def _tiny_wheel(folder: Path) -> Path:
    """A pure-Python wheel of a package ``gpucheckprobe`` (version 1.0), as pip builds them."""
    path = folder / 'gpucheckprobe-1.0-py3-none-any.whl'
    info = 'gpucheckprobe-1.0.dist-info'
    with zipfile.ZipFile(path, 'w') as wheel:
        wheel.writestr('gpucheckprobe/__init__.py', "WHERE = 'from the wheel'\n")
        wheel.writestr(f'{info}/METADATA', 'Metadata-Version: 2.1\nName: gpucheckprobe\nVersion: 1.0\n')
        wheel.writestr(f'{info}/WHEEL',
                       'Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n')
        wheel.writestr(f'{info}/RECORD', '')
    return path


def test_the_wrapper_installs_the_carried_wheels_first(tmp_path):
    copy = tmp_path / 'checkout'
    (copy / 'scripts').mkdir(parents=True)
    (copy / '.gpu_wheels').mkdir()
    shutil.copy(SCRIPTS / 'gpu_check.sh', copy / 'scripts')
    (copy / 'scripts' / 'gpu_check.py').write_text(  # stands in for the real script: reports what it can import
        'import sys, gpucheckprobe\nprint(gpucheckprobe.WHERE, sys.argv[1:])\n')
    _tiny_wheel(copy / '.gpu_wheels')
    site = tmp_path / 'site'
    result = _run(['bash', str(copy / 'scripts' / 'gpu_check.sh'), '--out', 'x'], GPU_CHECK_SITE=str(site))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f'gpu_check.sh: installing 1 wheel(s) from {copy / ".gpu_wheels"} into '
                                          f'{site}', "from the wheel ['--out', 'x']"]
    assert (site / 'gpucheckprobe' / '__init__.py').is_file()


def test_the_wheel_list_leaves_out_torch_and_what_the_target_has(tmp_path):
    have = tmp_path / 'have.txt'
    have.write_text('numpy==2.5.2\nopencv-python-headless==4.12\nPyYAML==6.0\ntqdm\ntensorboard==2.20\n'
                    'scikit_image==0.25\nmatplotlib\npytest==8\nhypothesis==6.1\n')
    result = _run(['bash', str(SCRIPTS / 'gpu_check_wheels.sh'), '--have', str(have), '--python-version', '3.12',
                   '--dest', str(tmp_path / 'w'), '--dry-run'])
    assert result.returncode == 0, result.stderr
    command = result.stdout.split()
    assert command[command.index('--python-version') + 1] == '3.12' and '--only-binary=:all:' in command
    assert command[-2:] == ['lmdb\\>=1.3', 'spandrel\\>=0.4'] and command[-4:-2] == ['--dest', str(tmp_path / 'w')]
    everything = _run(['bash', str(SCRIPTS / 'gpu_check_wheels.sh'), '--dry-run']).stdout.split()
    assert 'pytest\\>=7.0' in everything and not any(word.startswith('torch') for word in everything)
    bad = _run(['bash', str(SCRIPTS / 'gpu_check_wheels.sh'), '--python-version', 'twelve'])
    assert bad.returncode == 2 and 'expected 3.N' in bad.stderr
