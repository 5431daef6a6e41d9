"""One command that checks the CUDA paths of the project and measures them on an NVIDIA GPU, in under 8 minutes.

    scripts/gpu_check.sh --out DIR                      # every part (installs .gpu_wheels/ first when present)
    python scripts/gpu_check.py --out DIR --parts train_rrdbnet metrics
    python scripts/gpu_check.py --out DIR --quick --cpu # tiny sizes on the CPU: a check of this script only

Parts, each in its own process with its own time budget (seconds), so that one that fails, crashes or runs out of
time is recorded with its error while the others still run:

* ``nvidia_smi`` (15): the GPUs as nvidia-smi lists them (name, driver, memory, clocks, power) and as torch sees
  them (CUDA and cuDNN versions, capability, TF32 settings).
* ``cuda_tests`` (60): the tests that skip without CUDA (in the test files that skip on
  ``not torch.cuda.is_available()``, the tests whose names contain "cuda"), with pytest.
* ``train_msrresnet`` (80), ``train_rrdbnet`` (140): MSRResNet x4 and RRDBNet x4 (standard sizes), batch 16, GT
  patch 128, L1 + Adam through SRModel, for fp32 eager (the BasicSR-equivalent setting), bf16, bf16 +
  channels_last and bf16 + channels_last + compile: iterations/s, peak GPU memory of one step, and the mean loss of
  the last 5 of 30 steps from the same initialisation on the same batches, which must agree with fp32's within 2%.
* ``inference_rrdbnet`` (60): RRDBNet x4 on a 512x512 LR image, fp32 and bf16, whole and tiled (tile 128, pad 16):
  seconds per image, peak memory, and the difference to fp32 whole-image inference.
* ``metrics`` (45): PSNR and SSIM on the GPU against the numpy reference (``scripts/benchmark.py --sections
  metrics``); the values must agree to 1e-6 relative.
* ``degradation`` (45): the real-world degradation step's time per batch: ``scripts/benchmark.py --sections
  degradation`` when the benchmark has that section, else the kernel-free pipelines of
  ``basicsr.data.degradation_pipeline`` on a batch of 16 GT patches of 256x256; skipped when neither exists.

Without CUDA (``torch.cuda.is_available()`` false) every part that needs it is skipped with one line, and so is
``nvidia_smi`` without the ``nvidia-smi`` program. ``--cpu`` runs the parts on the CPU instead (with ``--quick``:
networks, images and step counts reduced, compile left out), to check the script where no GPU is.

Writes ``DIR/gpu_check.json`` (after every part: machine, settings, and per part its status ``ok``, ``failed``,
``timeout`` or ``skipped``, seconds, results, and the error or the reason) and ``DIR/gpu_check.log`` (every part's
output). Prints one line per part. Exit status 0 when no part failed or timed out, 1 otherwise, 2 for bad arguments.
"""
import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
JSON_NAME, LOG_NAME = 'gpu_check.json', 'gpu_check.log'
DEFAULT_TIME_LIMIT = 450  # seconds for all parts; with the wheel install and start-up, under 8 minutes
MIN_PART_SECONDS = 5  # a part with less time left than this is skipped
# packages the project or its tests import, by module: their absence is listed (bring them with gpu_check_wheels.sh)
NEEDED_MODULES = {'numpy': 'numpy', 'cv2': 'opencv-python-headless', 'yaml': 'pyyaml', 'tqdm': 'tqdm',
                  'lmdb': 'lmdb', 'tensorboard': 'tensorboard', 'scipy': 'scipy', 'skimage': 'scikit-image',
                  'torchvision': 'torchvision', 'pytest': 'pytest', 'hypothesis': 'hypothesis'}
LOSS_TOLERANCE = 0.02  # relative difference of the final losses allowed against fp32 eager
METRIC_TOLERANCE = 1e-6  # relative difference of PSNR/SSIM allowed against the numpy reference


@dataclass(frozen=True)
class Part:
    name: str
    budget_s: float
    needs_cuda: bool
    what: str


PARTS = {part.name: part for part in [
    Part('nvidia_smi', 15, False, 'nvidia-smi summary and the GPU torch sees'),
    Part('cuda_tests', 60, True, 'the tests that skip without CUDA'),
    Part('train_msrresnet', 80, True, 'MSRResNet x4 training: iterations/s, memory, loss agreement'),
    Part('train_rrdbnet', 140, True, 'RRDBNet x4 training: iterations/s, memory, loss agreement'),
    Part('inference_rrdbnet', 60, True, 'RRDBNet x4 inference on 512x512, fp32/bf16, whole/tiled'),
    Part('metrics', 45, True, 'PSNR/SSIM on the GPU against the numpy reference'),
    Part('degradation', 45, True, 'time per batch of the real-world degradation step'),
]}


# --------------------------------------------------------------------------------------------- running the parts
class Recorder:
    """What a part found, written to a JSON file after every change (so a part stopped at its time limit still
    leaves what it had measured)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {'results': {}, 'summary': '', 'failed_checks': [], 'error': None}
        self.save()

    def result(self, key: str, value: Any) -> None:
        self.data['results'][key] = value
        self.save()

    def summary(self, text: str) -> None:
        self.data['summary'] = text
        self.save()

    def check(self, passed: bool, problem: str) -> None:
        if not passed:
            self.data['failed_checks'].append(problem)
            self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix('.tmp')
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        tmp.replace(self.path)


@dataclass
class Context:
    """What a part runs with: the device, the size mode, a folder of its own and its recorder."""
    device: Any  # torch.device
    quick: bool
    work: Path
    record: Recorder

    def bench(self, extra_args: list[str] | None = None) -> Any:
        """A :class:`benchmark.Bench` on this device (its data written under ``work``)."""
        import benchmark
        args = benchmark.build_parser().parse_args(self.bench_args() + (extra_args or []))
        return benchmark.Bench(args, self.device, Path(tempfile.mkdtemp(prefix='bench-', dir=self.work)))

    def bench_args(self) -> list[str]:
        timing = ['1', '1', '1'] if self.quick else ['2', '10', '5']  # warm-up runs, timed runs, seconds per figure
        return ['--device', self.device.type, '--warmup', timing[0], '--repeats', timing[1], '--budget', timing[2],
                *(['--quick'] if self.quick else [])]

    def timer(self) -> Any:
        """A :class:`benchmark.Timer` on this device with the settings of :meth:`bench_args`."""
        import benchmark
        args = benchmark.build_parser().parse_args(self.bench_args())
        return benchmark.Timer(self.device, args.warmup, args.repeats, args.budget)

    def run_benchmark(self, section: str) -> list[dict[str, Any]]:
        """The rows of ``scripts/benchmark.py --sections SECTION`` on this device."""
        import benchmark
        report = self.work / f'benchmark_{section}.json'
        status = benchmark.main(self.bench_args() + ['--sections', section, '--json', str(report)])
        if status:
            raise RuntimeError(f'benchmark.py --sections {section} exited with status {status}')
        return json.loads(report.read_text())['results']


def run_part_here(name: str, work: Path, device_type: str, quick: bool) -> int:
    """Run one part in this process (a child of :func:`run_parts`); its findings go to ``work/<name>.json``."""
    import torch
    from basicsr.utils.logger import get_root_logger
    get_root_logger(log_level=30)  # warnings only (e.g. a compile fallback)
    device = torch.device('cuda', torch.cuda.current_device()) if device_type == 'cuda' else torch.device('cpu')
    part_dir = work / name
    part_dir.mkdir(parents=True, exist_ok=True)
    record = Recorder(work / f'{name}.json')
    try:
        PART_FUNCTIONS[name](Context(device, quick, part_dir, record))
    except Exception as err:  # recorded, with the traceback in the log
        traceback.print_exc()
        record.data['error'] = f'{type(err).__name__}: {err}'.splitlines()[0]
        record.save()
        return 1
    return 1 if record.data['failed_checks'] else 0


def run_parts(parts: list[Part], out: Path, cuda: bool, use_cpu: bool, quick: bool, time_limit: float,
              report: dict[str, Any]) -> dict[str, Any]:
    """Run each part in a child process with its time budget (never past ``time_limit`` in all), recording each
    in ``report['parts']`` and writing the JSON report after each."""
    deadline = time.monotonic() + time_limit
    work = Path(tempfile.mkdtemp(prefix='gpu-check-'))
    log_path = out / LOG_NAME
    try:
        for part in parts:
            reason = skip_reason(part, cuda, use_cpu, deadline - time.monotonic())
            if reason:
                entry = {'status': 'skipped', 'reason': reason}
            else:
                timeout = min(part.budget_s, deadline - time.monotonic())
                device = 'cuda' if cuda and not use_cpu else 'cpu'
                entry = run_child(part.name, work, device, quick, timeout, log_path)
            entry.update(what=part.what, budget_s=part.budget_s)
            report['parts'][part.name] = entry
            print(status_line(part.name, entry), flush=True)
            write_report(out, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def skip_reason(part: Part, cuda: bool, use_cpu: bool, seconds_left: float) -> str | None:
    if part.name == 'nvidia_smi' and shutil.which('nvidia-smi') is None:
        return 'no nvidia-smi program on this machine'
    if part.needs_cuda and not cuda and not use_cpu:
        return 'no CUDA device (torch.cuda.is_available() is False); --cpu runs it on the CPU'
    if seconds_left < MIN_PART_SECONDS:
        return 'no time left within --time-limit'
    return None


def run_child(name: str, work: Path, device: str, quick: bool, timeout: float, log_path: Path) -> dict[str, Any]:
    """Run part ``name`` as ``gpu_check.py --run-part`` in its own process group (killed whole at ``timeout``)."""
    command = [sys.executable, '-u', str(Path(__file__).resolve()), '--run-part', name, '--work', str(work),
               '--device', device, *(['--quick'] if quick else [])]
    start = time.monotonic()
    with open(log_path, 'a') as log:
        log.write(f'\n===== {name} ({device}, budget {timeout:.0f} s): {" ".join(command)}\n')
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
    seconds = round(time.monotonic() - start, 1)
    found = read_json(work / f'{name}.json')
    if code is None:
        outcome = {'status': 'timeout', 'error': f'stopped after its budget of {timeout:.0f} s; results so far kept'}
    elif found.get('error'):
        outcome = {'status': 'failed', 'error': found['error']}
    elif found.get('failed_checks'):
        outcome = {'status': 'failed', 'error': '; '.join(found['failed_checks'])}
    elif code != 0:
        outcome = {'status': 'failed', 'error': f'exited with status {code}{last_line(log_path)}'}
    else:
        outcome = {'status': 'ok'}
    summary = {'summary': found['summary']} if found.get('summary') else {}
    return {**outcome, 'seconds': seconds, **summary, 'results': found.get('results', {})}


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def last_line(log_path: Path) -> str:
    lines = [line for line in log_path.read_text(errors='replace').splitlines() if line.strip()]
    return f': {lines[-1].strip()}' if lines else ''


def status_line(name: str, entry: dict[str, Any]) -> str:
    status = entry['status']
    if status == 'skipped':
        return f'{name:<18} skipped: {entry["reason"]}'
    detail = entry.get('error') if status != 'ok' else entry.get('summary', '')
    return f'{name:<18} {status} ({entry["seconds"]:.0f} s){": " + detail if detail else ""}'


def write_report(out: Path, report: dict[str, Any]) -> None:
    counts = {s: sum(e['status'] == s for e in report['parts'].values())
              for s in ('ok', 'failed', 'timeout', 'skipped')}
    report['summary'] = counts
    tmp = out / f'.{JSON_NAME}.tmp'
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.replace(out / JSON_NAME)


# --------------------------------------------------------------------------------------------- machine
def environment() -> dict[str, Any]:
    """Python, torch and CUDA versions, the missing packages and the commit of the working tree."""
    import torch
    info = {'python': platform.python_version(), 'platform': platform.platform(), 'torch': torch.__version__,
            'torch_cuda': torch.version.cuda, 'cuda_available': torch.cuda.is_available(),
            'cpu_cores': os.cpu_count(),
            'missing_packages': sorted(package for module, package in NEEDED_MODULES.items()
                                       if importlib.util.find_spec(module) is None)}
    if info['cuda_available']:
        info['gpu'] = torch.cuda.get_device_name(0)
    try:
        info['commit'] = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=REPO, capture_output=True, text=True,
                                        timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info['commit'] = None
    return info


# --------------------------------------------------------------------------------------------- the parts
def part_nvidia_smi(ctx: Context) -> None:
    import torch
    fields = ['name', 'driver_version', 'memory.total', 'memory.used', 'utilization.gpu', 'temperature.gpu',
              'power.draw', 'power.limit', 'clocks.max.sm', 'pstate']
    query = subprocess.run(['nvidia-smi', f'--query-gpu={",".join(fields)}', '--format=csv,noheader,nounits'],
                           capture_output=True, text=True, timeout=30)
    if query.returncode:
        raise RuntimeError(f'nvidia-smi exited with status {query.returncode}: '
                           f'{(query.stderr or query.stdout).strip()}')
    gpus = [dict(zip(fields, (value.strip() for value in line.split(','))))
            for line in query.stdout.splitlines() if line.strip()]
    ctx.record.result('gpus', gpus)
    print(subprocess.run(['nvidia-smi'], capture_output=True, text=True, timeout=30).stdout)
    seen = {'cuda_available': torch.cuda.is_available(), 'torch_cuda': torch.version.cuda,
            'cudnn': torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            'tf32_matmul': torch.backends.cuda.matmul.allow_tf32, 'tf32_cudnn': torch.backends.cudnn.allow_tf32}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        seen.update(device=props.name, capability=f'{props.major}.{props.minor}',
                    memory_mib=props.total_memory // 2**20, multiprocessors=props.multi_processor_count)
    ctx.record.result('torch', seen)
    first = gpus[0] if gpus else {}
    ctx.record.summary(f"{len(gpus)} GPU(s): {first.get('name')}, driver {first.get('driver_version')}, "
                       f"{first.get('memory.total')} MiB; torch {torch.__version__} with CUDA {torch.version.cuda}")


def part_cuda_tests(ctx: Context) -> None:
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / 'tests').glob('test_*.py')
                   if 'not torch.cuda.is_available()' in p.read_text(errors='replace'))
    ctx.record.result('files', files)
    if not files:
        ctx.record.check(False, "no test file skips on 'not torch.cuda.is_available()'")
        return
    junit = ctx.work / 'cuda_tests.xml'
    subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:randomly', '-p', 'no:cacheprovider', '-k',
                    'cuda', f'--junitxml={junit}', *files], cwd=REPO)
    outcomes = {'passed': [], 'failed': [], 'skipped': []}
    for case in ElementTree.parse(junit).getroot().iter('testcase'):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find('failure') is not None or case.find('error') is not None:
            outcomes['failed'].append(name)
        elif case.find('skipped') is not None:
            outcomes['skipped'].append(f"{name} ({case.find('skipped').get('message', '')})")
        else:
            outcomes['passed'].append(name)
    for key, names in outcomes.items():
        ctx.record.result(key, names)
    ctx.record.summary(', '.join(f'{len(names)} {key}' for key, names in outcomes.items()))
    ctx.record.check(not outcomes['failed'], f"failed: {', '.join(outcomes['failed'])}")
    ctx.record.check(bool(outcomes['passed'] or outcomes['skipped']), 'no test ran')
    if ctx.device.type == 'cuda':
        ctx.record.check(not outcomes['skipped'], f"skipped on a CUDA machine: {', '.join(outcomes['skipped'])}")


def training_batches(count: int, batch: int, gt_size: int, device: Any) -> list[dict[str, Any]]:
    """``count`` batches of synthetic GT patches with their bicubic x4 LQ, on ``device``."""
    import numpy as np
    import torch
    from benchmark import SCALE, image_tensor, synthetic_hr
    from basicsr.data.transforms import bicubic_downscale_uint8
    batches = []
    for b in range(count):
        hrs = [synthetic_hr(1000 * b + i, gt_size) for i in range(batch)]
        lqs = [bicubic_downscale_uint8(np.ascontiguousarray(hr), SCALE) for hr in hrs]
        batches.append({'gt': torch.cat([image_tensor(x) for x in hrs]).to(device),
                        'lq': torch.cat([image_tensor(x) for x in lqs]).to(device)})
    return batches


def train_part(network: str) -> Callable[[Context], None]:
    def part(ctx: Context) -> None:
        from benchmark import Combo
        bench = ctx.bench()
        batch, gt_size, steps, averaged = (2, 32, 4, 2) if ctx.quick else (16, 128, 30, 5)
        batches = training_batches(4, batch, gt_size, ctx.device)
        ctx.record.result('setup', {'network': network, 'arch': bench.arch(network), 'batch': batch,
                                    'gt_size': gt_size, 'loss_steps': steps, 'loss_averaged_over': averaged,
                                    'optimizer': 'Adam lr 1e-4 (fused where possible)', 'loss': 'L1'})
        rows, lines = [], []
        for combo in [Combo(), Combo('bf16'), Combo('bf16', True), Combo('bf16', True, True)]:
            if combo.compile and ctx.quick:
                rows.append({'config': combo.label, 'skipped': 'compile is left out with --quick'})
            else:
                rows.append(measure_training(bench, network, combo, batches, steps, averaged))
                reference, loss = rows[0]['final_loss'], rows[-1]['final_loss']
                difference = rows[-1]['loss_relative_difference_to_fp32'] = abs(loss - reference) / reference
                ctx.record.check(difference <= LOSS_TOLERANCE, f'{combo.label}: final loss {loss:.5g} differs from '
                                 f'fp32 eager ({reference:.5g}) by {difference:.1%} (limit {LOSS_TOLERANCE:.0%})')
                ctx.record.check(rows[-1].get('compiled', True), f'{combo.label}: compile fell back to eager')
                memory = rows[-1]['peak_memory_mib']
                lines.append(f"{combo.label} {rows[-1]['iterations_per_s']:.3g} it/s"
                             + (f', {memory} MiB' if memory is not None else ''))
            ctx.record.result('rows', rows)
            ctx.record.summary('; '.join(lines))

    return part


def measure_training(bench: Any, network: str, combo: Any, batches: list[dict[str, Any]], steps: int,
                     averaged: int) -> dict[str, Any]:
    """Train a fresh SRModel (same initialisation for every combination) for ``steps`` iterations over
    ``batches``; the mean loss of the last ``averaged`` ones, then iterations/s and the memory peak of one step."""
    gc.collect()  # the previous measurement's model (in reference cycles) must not count in this memory peak
    model = bench.model(network, combo)
    step_count = iter(range(1, 10**9))

    def step(data: dict[str, Any]) -> None:
        current_iter = next(step_count)
        model.update_learning_rate(current_iter)
        model.feed_data(data)
        model.optimize_parameters(current_iter)

    for i in range(steps):
        if i == steps - averaged:
            model.get_current_log()  # resets the running means
        step(batches[i % len(batches)])
    loss = model.get_current_log()['l_pix']
    timing = bench.timer(lambda: step(batches[0]))
    row = {'config': combo.label, 'iterations_per_s': round(1 / timing.seconds, 3), 'runs': timing.runs,
           'peak_memory_mib': None if timing.memory_mb is None else round(timing.memory_mb), 'final_loss': loss}
    if combo.compile:
        row['compiled'] = bool(getattr(model.net_g, 'compiled', False))
    return row


def part_inference(ctx: Context) -> None:
    import torch
    from benchmark import NETWORKS, image_tensor, synthetic_hr
    from basicsr.archs import build_network
    from basicsr.models.inference import super_resolve
    spec, timer = NETWORKS['RRDBNet'], ctx.timer()
    arch = spec.quick_arch if ctx.quick else spec.arch
    size, tile, pad = (16, 8, 2) if ctx.quick else (512, 128, 16)
    torch.manual_seed(0)
    net = build_network({'type': 'RRDBNet', **arch}, 'network_g').to(ctx.device).eval()
    lq = image_tensor(synthetic_hr(3, size)).to(ctx.device)
    ctx.record.result('setup', {'arch': arch, 'lq_size': size, 'tile': tile, 'tile_pad': pad})
    rows, lines, reference = [], [], None
    for amp in ('none', 'bf16'):
        for tiled in (False, True):
            @torch.inference_mode()
            def forward() -> torch.Tensor:
                return super_resolve(net, lq, tile if tiled else None, pad, amp=amp)

            timing = timer(forward)
            out = forward()
            reference = out if reference is None else reference
            label = f"{'fp32' if amp == 'none' else amp}, {'tiled' if tiled else 'whole'}"
            mse = torch.mean((out.clamp(0, 1) - reference.clamp(0, 1)) ** 2).item()
            row = {'config': label, 'seconds_per_image': round(timing.seconds, 4), 'runs': timing.runs,
                   'peak_memory_mib': None if timing.memory_mb is None else round(timing.memory_mb),
                   'output_shape': list(out.shape),
                   'max_abs_difference_to_fp32_whole': (out - reference).abs().max().item(),
                   'psnr_to_fp32_whole_db': round(10 * math.log10(1 / mse), 2) if mse else None}
            rows.append(row)
            ctx.record.result('rows', rows)
            ctx.record.check(bool(torch.isfinite(out).all()), f'{label}: the output is not finite')
            ctx.record.check(list(out.shape) == [1, 3, 4 * size, 4 * size],
                             f'{label}: output shape {list(out.shape)}')
            lines.append(f'{label} {timing.seconds:.3g} s')
            ctx.record.summary('; '.join(lines))


def part_metrics(ctx: Context) -> None:
    rows = ctx.run_benchmark('metrics')
    ctx.record.result('rows', rows)
    lines = []
    for row in rows:
        match = re.search(r'max relative difference ([0-9.e+-]+)', row.get('note', ''))
        if match is None:
            continue
        difference = float(match[1])
        ctx.record.check(difference <= METRIC_TOLERANCE, f"{row['config']}: torch and numpy differ by "
                         f'{difference:.1e} relative (limit {METRIC_TOLERANCE:g})')
        lines.append(f"{row['config']} {row['value']:.3g} {row['unit']} (difference {difference:.0e})")
    ctx.record.check(bool(lines), 'benchmark.py reported no torch/numpy comparison')
    ctx.record.summary('; '.join(lines))


def part_degradation(ctx: Context) -> None:
    import benchmark
    if 'degradation' in benchmark.SECTIONS:
        rows = ctx.run_benchmark('degradation')
        ctx.record.result('rows', rows)
        ctx.record.summary('; '.join(f"{r['network']} {r['config']} {r['value']:.3g} {r['unit']}" for r in rows))
        return
    import torch
    from basicsr.data.degradation_pipeline import DEGRADATIONS, build_degradation
    batch, size = (2, 32) if ctx.quick else (16, 256)
    gt = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(ctx.device)
    generator = torch.Generator(ctx.device).manual_seed(0)
    timer = ctx.timer()
    rows, lines = [], []
    for name, cls in DEGRADATIONS.items():
        if cls.needs_kernels:
            rows.append({'pipeline': name, 'skipped': "needs the dataset's kernels (benchmark.py has no "
                                                      "'degradation' section to make them)"})
            continue
        pipeline = build_degradation(name, {'scale': 4}).to(ctx.device)
        timing = timer(lambda: pipeline(gt, generator))
        rows.append({'pipeline': name, 'batch': batch, 'gt_size': size,
                     'seconds_per_batch': round(timing.seconds, 4), 'runs': timing.runs})
        lines.append(f'{name} {timing.seconds * 1000:.3g} ms/batch')
    ctx.record.result('rows', rows)
    ctx.record.summary('; '.join(lines) or 'no pipeline without kernels')


PART_FUNCTIONS: dict[str, Callable[[Context], None]] = {
    'nvidia_smi': part_nvidia_smi, 'cuda_tests': part_cuda_tests, 'train_msrresnet': train_part('MSRResNet'),
    'train_rrdbnet': train_part('RRDBNet'), 'inference_rrdbnet': part_inference, 'metrics': part_metrics,
    'degradation': part_degradation,
}


def degradation_missing() -> str | None:
    """Why the degradation part cannot run (None when it can)."""
    if importlib.util.find_spec('basicsr.data.degradation_pipeline') is not None:
        return None
    return 'no degradation pipeline in this version (basicsr.data.degradation_pipeline)'


# --------------------------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='gpu_check', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('--out', type=Path, help='folder for gpu_check.json and gpu_check.log (created)')
    parser.add_argument('--parts', nargs='+', choices=list(PARTS), default=list(PARTS), metavar='PART',
                        help=f"parts to run (default: all): {', '.join(PARTS)}")
    parser.add_argument('--quick', action='store_true', help='tiny sizes and no compile: checks the script only')
    parser.add_argument('--cpu', action='store_true', help='run the GPU parts on the CPU (with --quick: a test)')
    parser.add_argument('--time-limit', type=float, default=DEFAULT_TIME_LIMIT,
                        help=f'seconds for all parts together (default {DEFAULT_TIME_LIMIT})')
    parser.add_argument('--run-part', choices=list(PARTS), help=argparse.SUPPRESS)  # in a child process
    parser.add_argument('--work', type=Path, help=argparse.SUPPRESS)
    parser.add_argument('--device', choices=('cuda', 'cpu'), default='cuda', help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.run_part is None:
        if args.out is None:
            parser.error('--out DIR is required')
        if args.out.exists() and not args.out.is_dir():
            parser.error(f'--out: {args.out} exists and is not a folder')
        if not 0 < args.time_limit <= 3600:
            parser.error(f'--time-limit: expected seconds in (0, 3600], got {args.time_limit:g}')
    sys.path.insert(0, str(SCRIPTS))
    import _bootstrap  # noqa: F401  (makes basicsr importable from the checkout)
    if args.run_part:
        return run_part_here(args.run_part, args.work, args.device, args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / LOG_NAME).write_text('')
    started = time.monotonic()
    info = environment()
    report = {'started': datetime.now(timezone.utc).isoformat(timespec='seconds'), 'environment': info,
              'settings': {'parts': args.parts, 'quick': args.quick, 'cpu': args.cpu,
                           'time_limit_s': args.time_limit},
              'parts': {}}
    print(f"gpu_check: {info.get('gpu', 'no CUDA device')}, torch {info['torch']} (CUDA {info['torch_cuda']}), "
          f"Python {info['python']}; writing {args.out / JSON_NAME}", flush=True)
    if info['missing_packages']:
        print(f"gpu_check: missing packages: {', '.join(info['missing_packages'])} (bring them as wheels: "
              'scripts/gpu_check_wheels.sh, then scripts/gpu_check.sh installs them)', flush=True)
    parts = [PARTS[name] for name in args.parts]
    unavailable = degradation_missing()
    if unavailable and PARTS['degradation'] in parts:
        parts.remove(PARTS['degradation'])
        report['parts']['degradation'] = {'status': 'skipped', 'reason': unavailable,
                                          'what': PARTS['degradation'].what}
        print(status_line('degradation', report['parts']['degradation']), flush=True)
    run_parts(parts, args.out, info['cuda_available'], args.cpu, args.quick, args.time_limit, report)
    report['seconds'] = round(time.monotonic() - started, 1)
    write_report(args.out, report)
    counts = report['summary']
    print(f"gpu_check: {counts['ok']} ok, {counts['failed']} failed, {counts['timeout']} timed out, "
          f"{counts['skipped']} skipped in {report['seconds']:.0f} s; {args.out / JSON_NAME}", flush=True)
    return 1 if counts['failed'] or counts['timeout'] else 0


if __name__ == '__main__':
    sys.exit(main())
