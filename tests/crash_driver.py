"""Runs trainings that kill themselves with SIGKILL at chosen moments (used by test_reliability.py).

    python tests/crash_driver.py OPTIONS after_save:ITER [train.py flags]    killed right after checkpoint ITER
    python tests/crash_driver.py OPTIONS writing:FILE [train.py flags]       killed half-way through writing FILE
    python tests/crash_driver.py trials OPTIONS STRAIGHT_OPTIONS TRIALS SEED REPORT.json

The kill is real (no clean-up code runs); only the moment is arranged, by wrapping the model's step, its inference
during validation, and the atomic file writer. ``trials``: this process imports everything once, then forks one
child per trial; each child resumes the run (``--auto_resume``) and kills itself at a random moment during
training, validation or a checkpoint write (half-way through a network or state file, between them, or before
pruning). After the trials one child finishes the run, another trains the same options uninterrupted, and the
report lists, per trial, the moment, how the child ended, and the complete checkpoints before and after.
"""
import io
import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basicsr.models.sr_model import SRModel  # noqa: E402
from basicsr.train import train_pipeline  # noqa: E402
from basicsr.utils import checkpoint  # noqa: E402


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after_save(iteration: int) -> None:
    original = SRModel.save

    def save(self, epoch, current_iter, **extra):
        original(self, epoch, current_iter, **extra)
        if current_iter == iteration:
            die()

    SRModel.save = save


def half_then_die(write: Callable[[Any], None]) -> Callable[[Any], None]:
    """A writer that writes the first half of what ``write`` would, then SIGKILLs the process."""
    def write_half(file):
        buffer = io.BytesIO()
        write(buffer)
        file.write(buffer.getvalue()[:buffer.tell() // 2])
        file.flush()
        die()
    return write_half


def kill_while_writing(file_name: str) -> None:
    """SIGKILL half-way through writing ``file_name``."""
    original = checkpoint.atomic_write

    def atomic_write(path, write):
        original(path, half_then_die(write) if Path(path).name == file_name else write)

    checkpoint.atomic_write = atomic_write


def kill_after_steps(steps: int) -> None:
    """SIGKILL right after this process's ``steps``-th optimisation step."""
    original, done = SRModel.optimize_parameters, []

    def optimize_parameters(self, current_iter):
        original(self, current_iter)
        done.append(current_iter)
        if len(done) == steps:
            die()

    SRModel.optimize_parameters = optimize_parameters


def kill_in_validation(images: int) -> None:
    """SIGKILL during the first validation, after inference on ``images`` images."""
    original, calls = SRModel.test, []

    def test(self):
        original(self)
        calls.append(1)
        if len(calls) == images:
            die()

    SRModel.test = test


def kill_at_first_save(moment: str) -> None:
    """SIGKILL during this process's first checkpoint: ``net_half``, ``after_net``, ``state_half`` or
    ``after_state`` (the state is in place, older checkpoints not pruned yet)."""
    original = checkpoint.atomic_write

    def atomic_write(path, write):
        name = Path(path).name
        is_net, is_state = name.startswith('net_') and not name.endswith('_latest.pth'), name.endswith('.state')
        if moment == 'net_half' and is_net or moment == 'state_half' and is_state:
            original(path, half_then_die(write))
        original(path, write)
        if moment == 'after_net' and is_net or moment == 'after_state' and is_state:
            die()

    checkpoint.atomic_write = atomic_write


def pick_moment(rng: random.Random) -> tuple[str, Callable[[], None]]:
    """A random kill moment during training, validation or saving: (description, the function that arms it)."""
    kind = rng.choice(['training', 'validation', 'saving'])
    if kind == 'training':
        steps = rng.randint(1, 3)
        return f'training, after step {steps}', lambda: kill_after_steps(steps)
    if kind == 'validation':
        images = rng.randint(1, 2)
        return f'validation, after image {images}', lambda: kill_in_validation(images)
    moment = rng.choice(['net_half', 'after_net', 'state_half', 'after_state'])
    return f'saving, {moment}', lambda: kill_at_first_save(moment)


def in_child(arm: Callable[[], None] | None, argv: list[str]) -> int:
    """Run ``train_pipeline(argv)`` in a forked child (``arm`` installs its kill first); its wait status as a
    return code (-9 for SIGKILL)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if arm is not None:
                arm()
            train_pipeline(argv=argv)
        except BaseException as err:  # report, never return into the parent's code
            print(f'child failed: {type(err).__name__}: {err}', file=sys.stderr, flush=True)
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def complete_checkpoints(experiment: Path) -> list[int]:
    return sorted(int(path.stem) for path, _ in checkpoint.newest_valid_states(
        experiment / 'training_states', experiment / 'models', 10 ** 6))


def plant_unreadable_state(experiment: Path, iteration: int = 1000) -> None:
    """A damaged ``<iteration>.state`` beside a real network file of that iteration (copied from a real one)."""
    models = experiment / 'models'
    real = next(p for p in sorted(models.glob('net_g_*.pth')) if p.stem.rsplit('_', 1)[1].isdigit())
    (models / f'net_g_{iteration}.pth').write_bytes(real.read_bytes())
    (experiment / 'training_states' / f'{iteration}.state').write_bytes(b'PK\x03\x04 not a checkpoint')


def run_trials(options: str, straight_options: str, trials: int, seed: int, experiment: Path) -> dict[str, Any]:
    """The trials (see the module's docstring); the unreadable state is planted once the run has a checkpoint (a
    run that starts from nothing moves an existing folder aside)."""
    rng = random.Random(seed)
    report = {'trials': [], 'planted': None}
    for index in range(trials):
        moment, arm = pick_moment(rng)
        before = complete_checkpoints(experiment)
        if before and report['planted'] is None:
            plant_unreadable_state(experiment)
            report['planted'] = index
        code = in_child(arm, ['-opt', options, '--auto_resume'])
        report['trials'].append({'moment': moment, 'code': code, 'before': before,
                                 'after': complete_checkpoints(experiment)})
    report['finish'] = in_child(None, ['-opt', options, '--auto_resume'])
    report['straight'] = in_child(None, ['-opt', straight_options])
    return report


if __name__ == '__main__':
    if sys.argv[1] == 'trials':
        options, straight, trials, seed, out = sys.argv[2:7]
        torch.set_num_threads(1)
        import yaml
        opt = yaml.safe_load(Path(options).read_text())
        exp = Path(opt['path']['root']) / 'experiments' / opt['name']
        Path(out).write_text(json.dumps(run_trials(options, straight, int(trials), int(seed), exp)))
        sys.exit(0)
    options, moment, *flags = sys.argv[1:]
    kind, _, value = moment.partition(':')
    if kind == 'after_save':
        kill_after_save(int(value))
    else:
        kill_while_writing(value)
    train_pipeline(argv=['-opt', options, *flags])
