"""torch.distributed set-up (torchrun or Slurm) and rank queries."""
import functools
import os
import subprocess
from typing import Any, Callable

import torch
import torch.distributed as dist

from basicsr.utils.errors import OptionError

LAUNCHERS = ('none', 'pytorch', 'slurm')


def init_dist(launcher: str, backend: str = 'nccl', port: int | None = None) -> None:
    """Join the process group: ``pytorch`` reads torchrun's variables, ``slurm`` derives them from Slurm's.

    ``nccl`` is replaced by ``gloo`` when CUDA is not available, so the same option file runs on CPUs.
    """
    if launcher == 'slurm':
        _export_slurm_env(port)
    elif launcher != 'pytorch':
        raise OptionError(f"--launcher: expected one of {', '.join(LAUNCHERS)}, got '{launcher}'.")
    if backend == 'nccl' and not torch.cuda.is_available():
        backend = 'gloo'
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())
    dist.init_process_group(backend=backend)


def _export_slurm_env(port: int | None) -> None:
    """Set the variables ``init_process_group`` reads from Slurm's (the first node of the job is the master)."""
    proc_id = int(os.environ['SLURM_PROCID'])
    num_tasks = int(os.environ['SLURM_NTASKS'])
    node_list = os.environ['SLURM_NODELIST']
    master = subprocess.check_output(['scontrol', 'show', 'hostname', node_list], text=True).splitlines()[0]
    os.environ.setdefault('MASTER_PORT', str(port or 29500))
    os.environ.setdefault('MASTER_ADDR', master)
    os.environ['WORLD_SIZE'] = str(num_tasks)
    os.environ['RANK'] = str(proc_id)
    gpus_per_node = max(torch.cuda.device_count(), 1)
    os.environ['LOCAL_RANK'] = str(int(os.environ.get('SLURM_LOCALID', proc_id % gpus_per_node)))


def get_dist_info() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside distributed runs."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def master_only(func: Callable) -> Callable:
    """Run ``func`` on rank 0 only (other ranks get None)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rank, _ = get_dist_info()
        if rank == 0:
            return func(*args, **kwargs)
        return None

    return wrapper


def select_device(num_gpu: int) -> torch.device:
    """The one place that picks the device: this process's GPU when ``num_gpu > 0`` and CUDA works, else CPU."""
    if num_gpu > 0 and torch.cuda.is_available():
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')
