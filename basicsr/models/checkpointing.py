"""Checkpoints of a training run: network files, the training state, and restoring both.

The trainer decides when to save and what to resume from; this module writes and reads. A recipe adds its own
entries to the training state through two hooks of :class:`~basicsr.models.base_model.BaseModel`,
``on_save_checkpoint(state)`` and ``on_load_checkpoint(state)`` (as PyTorch Lightning's), and the networks saved
are those :meth:`~basicsr.models.base_model.BaseModel.networks` enumerates, with their EMA copies.
Every file is written atomically (:func:`basicsr.utils.checkpoint.save_checkpoint`: temporary file, fsync,
rename), networks first, so an existing ``<iter>.state`` means a complete checkpoint.
"""
import logging
import random
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from basicsr.optimizers import train_weights
from basicsr.utils.checkpoint import (check_training_state, chosen_param_key, extract_state_dict, load_checkpoint,
                                      prune_checkpoints, save_checkpoint as write_checkpoint_file)
from basicsr.utils.dist_util import check_replicas_in_sync, gather_to_master, get_dist_info
from basicsr.utils.errors import CheckpointError, TrainingError
from basicsr.utils.file_inspect import checkpoint_budget

# ``model`` below is a BaseModel (not imported: base_model imports this module).

def load_weights(net: nn.Module, load_path: str, strict: bool = True, param_key: str = 'params',
                 logger: logging.Logger | None = None) -> None:
    """Load weights from ``load_path`` (``params``/``params_ema`` wrapper or bare state dict) into ``net``.

    Strict: shape mismatches, missing and unexpected keys are CheckpointErrors naming the file and tensors.
    Non-strict (BasicSR's ``strict_load_*: false``, e.g. fine-tuning x3 from an x4 network): tensors whose
    shapes differ are skipped, and they and the missing/unexpected keys are named in a warning.
    A network may translate other published key layouts into its own with a ``convert_state_dict`` method.
    """
    logger = logger or logging.getLogger('basicsr')
    checkpoint = load_checkpoint(load_path, max_bytes=checkpoint_budget(net))  # a bigger file: refused unread
    found = chosen_param_key(checkpoint, param_key)
    if found not in (param_key, None):
        logger.warning(f'{load_path} holds no [{param_key}]; loading [{found}] instead.')
    state = extract_state_dict(checkpoint, param_key, load_path)
    try:
        state = convert_layout(net, state)
    except CheckpointError as err:  # the network does not know the file: name it here
        raise CheckpointError(f'{load_path}: {err}') from None
    own = net.state_dict()
    mismatched = {k: f'{k}: {tuple(v.shape)} in file, {tuple(own[k].shape)} in network'
                  for k, v in state.items() if k in own and v.shape != own[k].shape}
    if strict and mismatched:
        raise CheckpointError(f'{load_path}: shapes differ from {net.__class__.__name__}: '
                              + '; '.join(list(mismatched.values())[:5])
                              + '; set path.strict_load_* to false to skip them.')
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if strict and (missing or unexpected):
        raise CheckpointError(f'{load_path}: keys do not match {net.__class__.__name__} '
                              f'(missing {missing[:5]}, unexpected {unexpected[:5]}); '
                              'set path.strict_load_* to false to load what fits.')
    if mismatched:
        logger.warning(f'Loading {load_path} non-strictly: skipped tensors whose shapes differ: '
                       + '; '.join(mismatched.values()) + '.')
        state = OrderedDict((k, v) for k, v in state.items() if k not in mismatched)
    if missing or unexpected:
        logger.warning(f'Loading {load_path} non-strictly: missing {missing}, unexpected {unexpected}.')
    net.load_state_dict(state, strict=False)
    logger.info(f"Loaded {net.__class__.__name__} from {load_path} [{found or 'bare state dict'}].")


def convert_layout(net: nn.Module, state: 'OrderedDict[str, torch.Tensor]') -> 'OrderedDict[str, torch.Tensor]':
    """Let a network translate other published key layouts into its own (``net.convert_state_dict``)."""
    convert = getattr(net, 'convert_state_dict', None)
    return convert(state) if convert else state


def save_weights(nets: Sequence[nn.Module], net_label: str, current_iter: int | str,
                 param_keys: str | Sequence[str], models_dir: str, extra: dict[str, Any] | None = None) -> None:
    """Write ``<models_dir>/<net_label>_<iter>.pth`` holding ``{param_key: state_dict}`` for each (bare) network
    (``<net_label>_latest.pth`` for ``current_iter`` -1, as BasicSR), plus ``extra`` top-level entries. Rank 0
    writes; a network holding non-finite values is a TrainingError and nothing is written."""
    current_iter = 'latest' if current_iter == -1 else current_iter
    param_keys = [param_keys] if isinstance(param_keys, str) else list(param_keys)
    checkpoint = {}
    for net, key in zip(nets, param_keys):
        checkpoint[key] = OrderedDict((k, v.detach().cpu()) for k, v in net.state_dict().items())
        broken = [k for k, v in checkpoint[key].items() if v.is_floating_point() and not v.isfinite().all()]
        if broken:
            raise TrainingError(f'{net_label} ({key}) holds non-finite values in {broken[:5]} at iteration '
                                f'{current_iter}; it is not saved, the previous checkpoints are kept.')
    checkpoint.update(extra or {})
    if get_dist_info()[0] == 0:
        write_checkpoint_file(checkpoint, Path(models_dir) / f'{net_label}_{current_iter}.pth')


def save_checkpoint(model: Any, epoch: int, current_iter: int, **extra: Any) -> None:
    """Save every network of ``model`` (with its EMA copy as ``params_ema``), then the training state. Every rank
    must call it. ``current_iter`` -1 writes ``net_<label>_latest.pth`` only, as BasicSR at the end of training."""
    for label, net in model.networks().items():
        ema = getattr(model, f'net_{label}_ema', None)
        if ema is not None:
            model.save_network([net, ema], f'net_{label}', current_iter, ['params', 'params_ema'])
        else:
            model.save_network(net, f'net_{label}', current_iter)
    write_training_state(model, epoch, current_iter, **extra)


def write_training_state(model: Any, epoch: int, current_iter: int, **extra: Any) -> None:
    """Write ``<training_states>/<iter>.state``: optimisers, schedules, gradient scalers, RNG states of every
    rank, best metrics, the networks saved with it, the recipe's entries (``on_save_checkpoint``) and ``extra``.

    Every rank must call it: the ranks' RNG states are gathered and their weights checked to be equal before
    rank 0 writes. ``current_iter`` -1 (BasicSR's final save) writes nothing. Then older checkpoints are pruned
    as ``logger.keep_last_checkpoints`` says.
    """
    if current_iter == -1:
        return
    rng_states = gather_to_master(capture_rng_state())
    replicas = {name: replica for name, value in vars(model).items()
                if isinstance(replica := model.unwrap_compiled(value), DistributedDataParallel)}
    check_replicas_in_sync(replicas, current_iter)
    state = {
        'epoch': epoch,
        'iter': current_iter,
        'optimizers': [o.state_dict() for o in model.optimizers],
        'schedulers': [s.state_dict() for s in model.schedulers],
        'grad_scalers': [s.state_dict() for s in model.grad_scalers.values()],
        'rng': rng_states,
        'best_metric_results': getattr(model, 'best_metric_results', {}),
        'networks': list(model.networks()),  # resuming loads net_<label>_<iter>.pth of each
        'accum_iter': model.opt['train']['accum_iter'],
        **extra,
    }
    model.on_save_checkpoint(state)
    if get_dist_info()[0] != 0:
        return
    paths = model.opt['path']
    write_checkpoint_file(state, Path(paths['training_states']) / f'{current_iter}.state')
    keep = model.opt['logger']['keep_last_checkpoints']
    if keep:
        prune_checkpoints(paths['training_states'], paths['models'], keep, list(model.networks()),
                          model.opt['train']['total_iter'], protect=current_iter)


def restore_training_state(model: Any, state: dict[str, Any]) -> None:
    """Restore optimisers, schedules, gradient scalers, best metrics, RNG states and (``on_load_checkpoint``) the
    recipe's entries from a loaded training state, once it is checked to fit the model (a mismatched optimiser
    state could crash the fused kernels): a CheckpointError naming the file otherwise."""
    check_training_state(state, model.optimizers, model.schedulers, list(model.grad_scalers.values()),
                         model.opt['train']['total_iter'], model.opt['path']['resume_state'] or '<training state>')
    saved_accum = state.get('accum_iter', 1)
    if saved_accum != model.opt['train']['accum_iter']:
        raise CheckpointError(f"{model.opt['path']['resume_state']}: saved with train.accum_iter {saved_accum}, "
                              f"this run has {model.opt['train']['accum_iter']}; resume with the same value.")
    for optimizer, saved in zip(model.optimizers, state['optimizers']):
        optimizer.load_state_dict(saved)
    train_weights(model.optimizers)  # a schedule-free optimiser was saved at its evaluation weights
    for schedule, saved in zip(model.schedulers, state['schedulers']):
        schedule.load_state_dict(saved)
    for scaler, saved in zip(model.grad_scalers.values(), state.get('grad_scalers', [])):
        scaler.load_state_dict(saved)
    if state.get('best_metric_results'):
        model.best_metric_results = state['best_metric_results']
    rank, world_size = get_dist_info()
    rng_states = state.get('rng', [])
    if len(rng_states) == world_size:
        restore_rng_state(rng_states[rank])
    elif rng_states:
        model.logger.warning(f'The training state holds the random generators of {len(rng_states)} process(es), '
                             f'this run has {world_size}: they keep their fresh seeds.')
    model.on_load_checkpoint(state)


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy and torch generator states, in types ``torch.load(weights_only=True)`` accepts.

    numpy's uint32 key array is held as int64: torch.distributed cannot send uint32 tensors between ranks.
    """
    np_state = np.random.get_state()
    state = {
        'python': random.getstate(),
        'numpy': (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state['python'])
    name, keys, *rest = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])
