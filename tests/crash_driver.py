"""Runs a training that kills itself with SIGKILL at a chosen moment (used by test_reliability.py).

    python tests/crash_driver.py OPTIONS after_save:ITER [train.py flags]    killed right after checkpoint ITER
    python tests/crash_driver.py OPTIONS writing:FILE [train.py flags]       killed half-way through writing FILE

The kill is real (no clean-up code runs); only the moment is arranged, by wrapping the save functions.
"""
import io
import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basicsr.models.sr_model import SRModel  # noqa: E402
from basicsr.train import train_pipeline  # noqa: E402
from basicsr.utils import checkpoint  # noqa: E402


def kill_after_save(iteration: int) -> None:
    original = SRModel.save

    def save(self, epoch, current_iter, **extra):
        original(self, epoch, current_iter, **extra)
        if current_iter == iteration:
            os.kill(os.getpid(), signal.SIGKILL)

    SRModel.save = save


def kill_while_writing(file_name: str) -> None:
    def save_checkpoint(obj, path):
        if Path(path).name != file_name:
            return original(obj, path)

        def write_half(file):
            buffer = io.BytesIO()
            torch.save(obj, buffer)
            file.write(buffer.getvalue()[:buffer.tell() // 2])
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        checkpoint.atomic_write(path, write_half)

    original = checkpoint.save_checkpoint
    checkpoint.save_checkpoint = save_checkpoint
    sys.modules['basicsr.models.base_model'].save_checkpoint = save_checkpoint


if __name__ == '__main__':
    options, moment, *flags = sys.argv[1:]
    kind, _, value = moment.partition(':')
    if kind == 'after_save':
        kill_after_save(int(value))
    else:
        kill_while_writing(value)
    train_pipeline(argv=['-opt', options, *flags])
