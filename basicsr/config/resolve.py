"""Resolving validated options for one run: the ONLY code that writes the options dict.

It adds what the run's context decides (training or testing, the process group, the seed every rank shares, the
debug name), makes paths absolute and keeps written outputs inside their roots, shortens the frequencies of debug
runs (logged), and points ``path.pretrain_network_*`` at the networks of the training state a run resumes from.
Afterwards the options are read, never written: the runtime keys BasicSR plug-ins read (``dist``, ``rank``,
``world_size``, ``is_train``, ``num_gpu``, ``path.*``) are all set here, once.
"""
import os
import random
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from basicsr.config.load import KeyLines
from basicsr.utils.checkpoint import (load_resumable_state, network_files, remove_stale_temporaries,
                                      resumable_states)
from basicsr.utils.dist_util import broadcast_object, get_dist_info
from basicsr.utils.errors import CheckpointError, OptionError
from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import DATASET_REGISTRY

# Path keys of datasets that do not declare theirs (``path_keys``), e.g. BasicSR plug-ins.
DATASET_PATH_KEYS = ('dataroot_gt', 'dataroot_lq', 'dataroot', 'meta_info_file', 'meta_info')
# The frequencies of a run whose name contains 'debug' (as BasicSR).
DEBUG_FREQUENCIES = {('val', 'val_freq'): 8, ('logger', 'print_freq'): 1, ('logger', 'save_checkpoint_freq'): 8}


@dataclass(frozen=True)
class RunContext:
    """What the command line and the process group decide about a run."""
    is_train: bool = True
    root_path: str | None = None
    debug: bool = False
    launcher: str = 'none'
    auto_resume: bool = False
    argv: Sequence[str] = field(default_factory=tuple)


def dataset_path_keys(dataset_opt: dict[str, Any]) -> tuple[str, ...]:
    """The option keys of a dataset that name files or folders (declared by the dataset as ``path_keys``)."""
    cls = DATASET_REGISTRY.get(dataset_opt['type']) if dataset_opt.get('type') in DATASET_REGISTRY else None
    return tuple(getattr(cls, 'path_keys', DATASET_PATH_KEYS))


def resolve_options(opt: dict[str, Any], lines: KeyLines, context: RunContext) -> tuple[dict, dict | None]:
    """Complete validated options for the run ``context`` describes; return them and the training state to resume
    from (None for a fresh run). Call after the process group is set up (every rank must call it)."""
    rank, world_size = get_dist_info()
    if context.debug and 'debug' not in opt['name']:
        opt['name'] = f"debug_{opt['name']}"
    opt.update(is_train=context.is_train, opt_path=lines.where(()), dist=context.launcher != 'none', rank=rank,
               world_size=world_size, auto_resume=context.auto_resume,
               manual_seed=broadcast_object(opt['manual_seed'] if opt['manual_seed'] is not None
                                            else random.randint(1, 10000)),
               resume_command=_resume_command(context))
    if opt['num_gpu'] == 'auto':
        opt['num_gpu'] = torch.cuda.device_count()
    for name, dataset in opt['datasets'].items():
        dataset.update(phase=name.split('_')[0], scale=opt['scale'])
    _resolve_paths(opt, context.root_path)
    if context.is_train and 'debug' in opt['name']:
        _shorten_for_debug(opt)
    state = _resume_state(opt) if context.is_train else None
    return opt, state


def _resume_command(context: RunContext) -> str:
    """The command that continues this run: the same flags plus ``--auto_resume``."""
    program = ('python train.py' if context.root_path and Path(sys.argv[0]).name == 'train.py'
               else 'python -m basicsr.train')
    return ' '.join([program, *(shlex.quote(a) for a in context.argv if a != '--auto_resume'), '--auto_resume'])


def _shorten_for_debug(opt: dict[str, Any]) -> None:
    changed = []
    for (section, key), value in DEBUG_FREQUENCIES.items():
        if opt[section][key] != value:
            changed.append(f'{section}.{key} {opt[section][key]} -> {value}')
            opt[section][key] = value
    if changed:
        get_root_logger().info(f"Debug run ({opt['name']}): frequencies shortened: {', '.join(changed)}.")


def _resolve_paths(opt: dict[str, Any], root_path: str | os.PathLike | None) -> None:
    """Fill ``opt['path']`` (experiment / result folders) and make relative data paths absolute."""
    paths = opt['path']
    root = Path(paths['root'] or root_path or os.getcwd()).resolve()
    paths['root'] = str(root)

    def absolute(p: str | None) -> str | None:
        return None if p is None else str(root / Path(p).expanduser())

    def inside_root(key: str, p: str) -> Path:
        """An output folder: relative ones must stay below the root (absolute ones are the user's choice)."""
        resolved = Path(absolute(p)).resolve()
        if not Path(p).expanduser().is_absolute() and not resolved.is_relative_to(root):
            raise OptionError(f'path.{key}: {p!r} leads outside {root}; give an absolute path to write there.',
                              key_path=f'path.{key}')
        return resolved

    for dataset in opt['datasets'].values():
        for key in dataset_path_keys(dataset):
            if isinstance(dataset.get(key), str):
                dataset[key] = absolute(dataset[key])
    for key in list(paths):
        if key.startswith('pretrain_network_') or key == 'resume_state':
            paths[key] = absolute(paths[key])
    if opt['prepare_demo_data']:
        opt['prepare_demo_data'] = absolute(opt['prepare_demo_data'])
    if opt['is_train']:
        base = inside_root('experiments_root', paths['experiments_root'] or f"experiments/{opt['name']}")
        paths.update(experiments_root=str(base), models=str(base / 'models'),
                     training_states=str(base / 'training_states'), log=str(base),
                     visualization=str(base / 'visualization'))
    else:
        base = inside_root('results_root', paths['results_root'] or f"results/{opt['name']}")
        paths.update(results_root=str(base), log=str(base), visualization=str(base / 'visualization'))


def _resume_state(opt: dict[str, Any]) -> dict[str, Any] | None:
    """The training state to resume from (``path.resume_state`` or, with ``--auto_resume``, the newest complete
    one), with ``path.pretrain_network_*`` pointed at the networks saved with it.

    With ``--auto_resume`` a state that is unreadable, not a training state, or whose network files are missing is
    skipped with a warning, and the previous complete one is used.
    """
    paths = opt['path']
    labels = [key[len('network_'):] for key in opt if key.startswith('network_') and opt[key]]
    total_iter = opt['train']['total_iter']  # a state beyond it is not one of this run's
    state_path, state = paths['resume_state'], None
    if state_path is not None:
        state = load_resumable_state(state_path, labels, total_iter=total_iter)
    elif opt['auto_resume']:
        if opt['rank'] == 0:
            for folder in (paths['training_states'], paths['models']):
                for stale in remove_stale_temporaries(folder):
                    get_root_logger().warning(f'Removed {stale}, left by an interrupted checkpoint write.')
            for candidate in resumable_states(paths['training_states'], paths['models']):
                try:
                    state, state_path = load_resumable_state(candidate, labels, total_iter=total_iter), candidate
                    break
                except CheckpointError as err:
                    get_root_logger().warning(f'Skipping a training state that cannot be resumed from: {err}')
        state_path = broadcast_object(state_path)  # every rank resumes from the state rank 0 picked
        if state is None and state_path is not None:
            state = load_resumable_state(state_path, labels, total_iter=total_iter)
    if state is None:
        return None
    for label, path in network_files(state_path, state, labels).items():
        paths[f'pretrain_network_{label}'] = str(path)
        paths[f'param_key_{label}'] = 'params'  # the trained weights, not the EMA a fine-tune may start from
    paths['resume_state'] = str(state_path)
    return state
