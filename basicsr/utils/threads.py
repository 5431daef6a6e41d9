"""CPU thread and dataloader-worker counts that fit the machine.

PyTorch starts one intra-op thread per core in every process. With several ranks on one machine, or dataloader
workers decoding images beside the training process, those threads compete for the same cores; on a busy 2-core
machine the CPU demo ran three times faster with one intra-op thread than with PyTorch's default. These helpers give
each training process its share of the cores and cap the workers an option file asks for at what the machine has.
"""
import logging
import os

import torch

THREADS_ENV = 'OMP_NUM_THREADS'  # the user's explicit choice, left alone when set


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and ``taskset`` restrict), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def local_ranks() -> int:
    """Training processes on this machine: torchrun's ``LOCAL_WORLD_SIZE``, Slurm's tasks per node, else 1."""
    for name in ('LOCAL_WORLD_SIZE', 'SLURM_NTASKS_PER_NODE'):
        value = os.environ.get(name, '')
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def cap_dataloader_workers(requested: int, ranks: int | None = None, logger: logging.Logger | None = None,
                           where: str = 'num_worker_per_gpu') -> int:
    """``requested`` workers per rank, capped at this rank's share of the cores (an info line names both numbers
    when it is lowered); 0 (load in the main process) stays 0. ``ranks``: processes on this machine
    (default :func:`local_ranks`)."""
    ranks = ranks or local_ranks()
    share = max(1, available_cores() // ranks)
    if requested <= share:
        return requested
    if logger is not None:
        logger.info(f'{where}: {requested} dataloader workers asked for, {share} used ({available_cores()} cores'
                    f'{f" shared by {ranks} ranks" if ranks > 1 else ""}).')
    return share


def intra_op_threads(ranks: int | None = None, workers_per_rank: int = 0) -> int:
    """Intra-op threads for one training process: its share of the cores less its dataloader workers, at least 1."""
    return max(1, available_cores() // (ranks or local_ranks()) - workers_per_rank)


def set_thread_defaults(workers_per_rank: int = 0, ranks: int | None = None,
                        logger: logging.Logger | None = None) -> int:
    """Set PyTorch's intra-op threads to :func:`intra_op_threads` unless ``OMP_NUM_THREADS`` is set (then that
    choice stands); logs what was chosen and why. Returns the thread count in effect."""
    ranks = ranks or local_ranks()
    if os.environ.get(THREADS_ENV):
        threads = torch.get_num_threads()
        reason = f'{THREADS_ENV}={os.environ[THREADS_ENV]}'
    else:
        threads = intra_op_threads(ranks, workers_per_rank)
        torch.set_num_threads(threads)
        reason = (f'{available_cores()} cores / {ranks} rank(s) - {workers_per_rank} dataloader worker(s); '
                  f'set {THREADS_ENV} to choose')
    if logger is not None:
        logger.info(f'CPU threads: {threads} intra-op per process ({reason}).')
    return threads
