"""torch.distributed set-up (torchrun or Slurm), rank queries and the few collectives the framework needs."""
import functools
import os
import subprocess
from typing import Any, Callable, Iterable

import torch
import torch.distributed as dist
from torch import nn

from basicsr.utils.errors import OptionError, TrainingError

from basicsr.utils.flags import LAUNCHERS


def init_dist(launcher: str, backend: str = 'nccl', port: int | None = None) -> None:
    """Join the process group: ``pytorch`` reads torchrun's variables, ``slurm`` derives them from Slurm's;
    ``none`` (one process) joins nothing.

    ``port`` is the master port of Slurm jobs (torchrun sets its own). ``nccl`` is replaced by ``gloo`` when CUDA
    is not available, so the same option file runs on CPUs.
    """
    if launcher == 'none':
        if int(os.environ.get('WORLD_SIZE', '1')) > 1:
            raise OptionError(f"--launcher none, but this is one of {os.environ['WORLD_SIZE']} processes started "
                              'by torchrun: add --launcher pytorch, or every process would train alone.')
        return
    if launcher == 'slurm':
        _require_env(('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'), 'slurm', 'start it with srun')
        _export_slurm_env(port)
    elif launcher == 'pytorch':
        _require_env(('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'), 'pytorch', 'start it with torchrun')
    else:
        raise OptionError(f"--launcher: expected one of {', '.join(LAUNCHERS)}, got '{launcher}'.")
    if backend == 'nccl' and not torch.cuda.is_available():
        backend = 'gloo'
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())
    dist.init_process_group(backend=backend)


def _require_env(names: tuple[str, ...], launcher: str, hint: str) -> None:
    missing = [name for name in names if name not in os.environ]
    if missing:
        raise OptionError(f"--launcher {launcher}: the environment lacks {', '.join(missing)}; {hint}.")


def _export_slurm_env(port: int | None) -> None:
    """Set the variables ``init_process_group`` reads from Slurm's (the first node of the job is the master).

    A ``MASTER_PORT`` or ``MASTER_ADDR`` already in the environment wins over ``port`` and the node list.
    """
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


def close_dist() -> None:
    """Leave the process group (if joined), so the backend shuts down cleanly at exit."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


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


# --------------------------------------------------------------------------------------------- collectives
# Each one is a no-op outside distributed runs, and must be called by every rank in the same order.

def barrier() -> None:
    """Wait until every rank gets here."""
    if get_dist_info()[1] > 1:
        dist.barrier()


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` (a picklable value), on every rank."""
    if get_dist_info()[1] == 1:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    world_size = get_dist_info()[1]
    if world_size == 1:
        return [obj]
    gathered: list[Any] = [None] * world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def gather_to_master(obj: Any) -> list[Any] | None:
    """Every rank's ``obj``, in rank order, on rank 0; None on the other ranks."""
    rank, world_size = get_dist_info()
    if world_size == 1:
        return [obj]
    gathered: list[Any] | None = [None] * world_size if rank == 0 else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def check_replicas_in_sync(nets: dict[str, nn.Module], current_iter: int, rtol: float = 1e-6) -> None:
    """Raise a TrainingError when the ranks' copies of a network differ (they must stay equal under DDP).

    Compares a float64 checksum of every parameter across ranks: one all-reduce per call, no bulk transfer.
    A difference means a rank trained from another state (for example a resume that missed one rank).
    """
    if get_dist_info()[1] == 1:
        return
    for name, net in nets.items():
        sums = _parameter_checksums(net.parameters())
        low, high = sums.clone(), sums.clone()
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        tolerance = rtol * torch.maximum(low.abs(), high.abs()) + 1e-12
        if bool(((high - low) > tolerance).any()):
            raise TrainingError(f'iteration {current_iter}: the ranks hold different weights of {name}; the '
                                'distributed replicas diverged, so this checkpoint would not be what every '
                                'rank trained.')


def _parameter_checksums(params: Iterable[nn.Parameter]) -> torch.Tensor:
    """Sum and sum of squares of each parameter, in float64."""
    values = [torch.stack([p.detach().double().sum(), p.detach().double().square().sum()]) for p in params]
    return torch.cat(values)
