"""Safe, atomic checkpoint files.

Writing goes to a temporary file in the destination folder, which is flushed to disk and then renamed over the
destination: a crash mid-write leaves the previous file intact and never a truncated one under the final name.
Reading uses ``torch.load(weights_only=True)`` (or safetensors), so a checkpoint can hold tensors and plain
containers but never objects whose unpickling would run code.
"""
import os
import pickle
import random
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from basicsr.utils.errors import CheckpointError
from basicsr.utils.file_inspect import check_pth_size
from basicsr.utils.known_files import download_hint
from basicsr.utils.misc import current_umask
from basicsr.utils.run_lock import refuse_if_locked

TMP_SUFFIX = '.tmp'


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None]) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, fsync it, then rename it to ``path``.

    An I/O error (a full disk, a lost permission) removes the temporary file and becomes one CheckpointError naming
    ``path`` and the cause; the previous file under ``path`` is untouched.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=TMP_SUFFIX, dir=path.parent)
        with os.fdopen(fd, 'wb') as file:
            os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes owner-only files; use what open() would
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        cause = _os_error_in(err)
        if cause is None:
            raise
        raise CheckpointError(f'{path}: cannot write the file ({cause.strerror or cause}); the previous files are '
                              'intact.') from err
    _fsync_dir(path.parent)


def _os_error_in(err: BaseException) -> OSError | None:
    """``err`` or the OSError behind it (torch.save turns a failed write into a RuntimeError whose context it is)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically."""
    atomic_write(path, lambda file: torch.save(obj, file))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = 'cpu',
                    max_bytes: int | None = None) -> Any:
    """Load a ``.pth``/``.state`` file with ``weights_only=True``, or a ``.safetensors`` file.

    Raises CheckpointError naming the file when it is missing, damaged or holds anything but tensors and plain
    containers (such a file is refused without running any of its code), and, from the zip directory before any
    tensor is read, when its tensors would take more than ``max_bytes`` or a record is a compression bomb
    (:func:`basicsr.utils.file_inspect.check_pth_size`).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: checkpoint file not found.{download_hint(path)}')
    if path.suffix == '.safetensors':
        return _load_safetensors(path, map_location)
    check_pth_size(path, max_bytes)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(f'{path}: refused to load: the file holds objects other than tensors and plain '
                              f'containers, and loading it could run code ({str(err).splitlines()[0]}).') from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f'{path}: not a readable PyTorch checkpoint (truncated or damaged?): {err}') from None


def _load_safetensors(path: Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    try:
        from safetensors.torch import load_file
    except ImportError as err:
        raise CheckpointError(f'{path}: reading .safetensors needs the safetensors package '
                              '(pip install safetensors).') from err
    try:
        return load_file(str(path), device=str(map_location))
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f'{path}: not a readable safetensors file: {err}') from None


def extract_state_dict(checkpoint: Any, param_key: str | None = 'params',
                       source: str = '<checkpoint>') -> 'OrderedDict[str, torch.Tensor]':
    """The network weights inside a loaded checkpoint.

    Accepts BasicSR files (``{'params': ..., 'params_ema': ...}``; ``param_key`` picks one and falls back to the
    other), and bare state dicts; removes a ``module.`` prefix left by (Distributed)DataParallel.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{source}: expected a dict of tensors, found {type(checkpoint).__name__}.')
    key = chosen_param_key(checkpoint, param_key)
    state = checkpoint if key is None else checkpoint[key]
    out = OrderedDict()
    for name, value in state.items():
        if not torch.is_tensor(value):
            raise CheckpointError(f"{source}: entry '{name}' is a {type(value).__name__}, not a tensor.")
        out[name[len('module.'):] if name.startswith('module.') else name] = value
    return out


def chosen_param_key(checkpoint: Any, param_key: str | None) -> str | None:
    """The entry of ``checkpoint`` that :func:`extract_state_dict` reads: ``param_key`` when the file has it, the
    other of ``params``/``params_ema`` when it has only that one, None for a bare state dict."""
    if not isinstance(checkpoint, dict):
        return None
    wrappers = [k for k in ('params', 'params_ema') if isinstance(checkpoint.get(k), dict)]
    if wrappers:
        return param_key if param_key in wrappers else wrappers[0]
    if param_key not in (None, 'params', 'params_ema') and param_key in checkpoint:
        return param_key
    return None


def load_state_dict(path: str | os.PathLike, param_key: str | None = 'params') -> 'OrderedDict[str, torch.Tensor]':
    """The network weights of a checkpoint file (see :func:`load_checkpoint` and :func:`extract_state_dict`)."""
    return extract_state_dict(load_checkpoint(path), param_key, str(path))


# What a training state must hold (BaseModel.save_training_state writes it, resume_training and train.py read it):
# key -> (type, what it is); optional keys are checked when present.
_STATE_KEYS = {'iter': (int, 'the iteration'), 'epoch': (int, 'the epoch'),
               'optimizers': (list, 'the optimiser states'), 'schedulers': (list, 'the schedule states')}
_OPTIONAL_STATE_KEYS = {'iter_in_epoch': (int, 'the iteration within the epoch'),
                        'grad_scalers': (list, 'the gradient scaler states'), 'rng': (list, 'the RNG states'),
                        'best_metric_results': (dict, 'the best metric values'),
                        'networks': (list, 'the labels of the saved networks')}


def validate_training_state(state: Any, source: str | os.PathLike = '<training state>',
                            total_iter: int | None = None) -> dict[str, Any]:
    """``state`` if it has the structure of a training state, else a CheckpointError naming ``source``.

    Checks what can be checked without the model: the keys the trainer reads and their types; ``iter``/``epoch``
    non-negative integers with ``epoch`` and ``iter_in_epoch`` at most ``iter`` and ``iter`` at most ``total_iter``
    (when given) and equal to the file name's number for ``<iter>.state``; optimiser states whose per-parameter
    entries belong to their parameter groups; schedule and gradient scaler states as dicts; RNG states (one per
    process) of the types the generators take; network labels. :func:`check_training_state` adds the checks
    against the live optimisers.
    """
    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f'{source}: not a training state: {problem}.')

    if not isinstance(state, dict):
        raise fail(f'expected a dict, found {type(state).__name__}')
    missing = [key for key in _STATE_KEYS if key not in state]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    for key, (kind, what) in {**_STATE_KEYS, **_OPTIONAL_STATE_KEYS}.items():
        value = state.get(key)
        if key in state and (not isinstance(value, kind) or isinstance(value, bool)):
            raise fail(f"'{key}' ({what}) is a {type(value).__name__}, expected {kind.__name__}")
        if kind is int and key in state and value < 0:
            raise fail(f"'{key}' ({what}) is negative ({value})")
    for key in ('epoch', 'iter_in_epoch'):
        if state.get(key, 0) > state['iter']:
            raise fail(f"'{key}' ({state[key]}) is larger than 'iter' ({state['iter']})")
    if total_iter is not None and state['iter'] > total_iter:
        raise fail(f"'iter' ({state['iter']}) is beyond train.total_iter ({total_iter})")
    for key, inner in (('optimizers', ('state', 'param_groups')), ('schedulers', ()), ('grad_scalers', ()),
                       ('rng', ('python', 'numpy', 'torch'))):
        for index, item in enumerate(state.get(key, [])):
            if not isinstance(item, dict) or any(k not in item for k in inner):
                needs = f" with {', '.join(inner)}" if inner else ''
                raise fail(f"'{key}[{index}]' is not a state dict{needs}")
    for index, optimizer in enumerate(state['optimizers']):
        problem = _optimizer_structure_problem(optimizer)
        if problem:
            raise fail(f"'optimizers[{index}]': {problem}")
    for index, rng in enumerate(state.get('rng', [])):
        problem = _rng_problem(rng)
        if problem:
            raise fail(f"'rng[{index}]': {problem}")
    if not all(isinstance(label, str) and label for label in state.get('networks', [])):
        raise fail("'networks' must list network labels (non-empty strings)")
    stem = Path(source).stem
    if Path(source).suffix == '.state' and stem.isdigit() and int(stem) != state['iter']:
        raise fail(f"it says iteration {state['iter']}, its name says {stem}")
    return state


def _optimizer_structure_problem(optimizer: dict[str, Any]) -> str | None:
    """What is wrong inside one saved optimiser state (parameter groups, per-parameter entries), or None."""
    groups, per_param = optimizer['param_groups'], optimizer['state']
    if not isinstance(groups, list) or not isinstance(per_param, dict):
        return "'param_groups' must be a list and 'state' a dict"
    ids = []
    for index, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get('params'), list):
            return f'param group {index} is not a dict with a params list'
        ids += group['params']
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or len(set(ids)) != len(ids):
        return 'the param groups must list distinct integer parameter ids'
    strays = [key for key in per_param if key not in set(ids)]
    if strays:
        return f'state for parameter ids {strays[:5]} that no param group lists'
    for key, entry in per_param.items():
        if not isinstance(entry, dict):
            return f'the state of parameter {key} is a {type(entry).__name__}, not a dict'
        for name, value in entry.items():
            if not (torch.is_tensor(value) or _is_number(value)):
                return f"'{name}' of parameter {key} is a {type(value).__name__}, expected a tensor or a number"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_PYTHON_RNG_WORDS = len(random.getstate()[1])  # 624 Mersenne Twister words and the position
_NUMPY_RNG_WORDS = 624
_TORCH_RNG_BYTES = torch.get_rng_state().numel()


def _rng_problem(rng: dict[str, Any]) -> str | None:
    """What is wrong with one process's saved RNG states (types and sizes the generators accept), or None."""
    python = rng['python']
    if not (isinstance(python, tuple) and len(python) == 3 and isinstance(python[0], int)
            and isinstance(python[1], tuple) and len(python[1]) == _PYTHON_RNG_WORDS
            and all(isinstance(w, int) and 0 <= w < 2 ** 32 for w in python[1][:-1])
            and isinstance(python[1][-1], int) and 0 <= python[1][-1] <= _PYTHON_RNG_WORDS - 1
            and (python[2] is None or isinstance(python[2], float))):
        return "'python' is not a state of random.getstate() (version, 625 integers, gauss)"
    numpy_state = rng['numpy']
    if not (isinstance(numpy_state, tuple) and len(numpy_state) == 5 and numpy_state[0] == 'MT19937'
            and torch.is_tensor(numpy_state[1]) and numpy_state[1].dtype == torch.int64
            and tuple(numpy_state[1].shape) == (_NUMPY_RNG_WORDS,)
            and bool(((numpy_state[1] >= 0) & (numpy_state[1] < 2 ** 32)).all())
            and isinstance(numpy_state[2], int) and 0 <= numpy_state[2] <= _NUMPY_RNG_WORDS
            and isinstance(numpy_state[3], int) and _is_number(numpy_state[4])):
        return "'numpy' is not ('MT19937', 624 int64 keys, position, has_gauss, gauss)"
    for name in ('torch', 'cuda'):
        tensors = rng.get(name, [])
        tensors = [tensors] if name == 'torch' else tensors
        if not isinstance(tensors, list) or not all(torch.is_tensor(t) and t.dtype == torch.uint8 and t.dim() == 1
                                                    for t in tensors):
            return f"'{name}' is not a ByteTensor generator state"
    if rng['torch'].numel() != _TORCH_RNG_BYTES:
        return f"'torch' holds {rng['torch'].numel()} bytes, the CPU generator's state has {_TORCH_RNG_BYTES}"
    return None


# Per-parameter optimiser entries that are scalars whatever the parameter's shape (Adam's step, NAdam's mu_product,
# ASGD's eta and mu), and Adafactor's factored second moments (the parameter's shape with one dimension set to 1).
_SCALAR_ENTRIES = frozenset({'step', 'mu_product', 'eta', 'mu'})
_FACTORED_ENTRIES = frozenset({'row_var', 'col_var'})


def check_training_state(state: Any, optimizers: Sequence[torch.optim.Optimizer], schedulers: Sequence[Any],
                         grad_scalers: Sequence[Any], total_iter: int, path: str | os.PathLike,
                         iters_per_epoch: int | None = None) -> dict[str, Any]:
    """``state`` if it can be loaded into the live ``optimizers``, ``schedulers`` and ``grad_scalers`` (in the
    model's order) of a run of ``total_iter`` iterations, else one CheckpointError naming ``path`` and the mismatch.

    Beyond :func:`validate_training_state`: as many optimisers, with as many param groups holding as many
    parameters, every hyper-parameter of the live groups present with a value of the same kind; each per-parameter
    tensor of the live parameter's shape (a wrong ``exp_avg`` would crash the fused kernels) and kind (floating or
    not); the schedules' and scalers' keys; ``iter_in_epoch`` at most ``iters_per_epoch`` when given. Nothing is
    loaded or changed.
    """
    state = validate_training_state(state, path, total_iter)

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f'{path}: does not fit this run: {problem}.')

    if iters_per_epoch is not None and state.get('iter_in_epoch', 0) > iters_per_epoch:
        raise fail(f"'iter_in_epoch' ({state['iter_in_epoch']}) is beyond the {iters_per_epoch} iterations of "
                   'an epoch')
    if len(state['optimizers']) != len(optimizers):
        raise fail(f"it holds {len(state['optimizers'])} optimiser state(s), the model has {len(optimizers)}")
    for index, (saved, live) in enumerate(zip(state['optimizers'], optimizers)):
        problem = _optimizer_fit_problem(saved, live)
        if problem:
            raise fail(f'optimiser {index} ({type(live).__name__}): {problem}')
    if len(state['schedulers']) != len(schedulers):
        raise fail(f"it holds {len(state['schedulers'])} schedule state(s), the model has {len(schedulers)}")
    saved_scalers = state.get('grad_scalers', [])
    if saved_scalers and len(saved_scalers) != len(grad_scalers):
        raise fail(f'it holds {len(saved_scalers)} gradient scaler state(s), the model has {len(grad_scalers)}')
    for kind, saved_list, live_list in (('schedule', state['schedulers'], schedulers),
                                        ('gradient scaler', saved_scalers, grad_scalers)):
        for index, (saved, live) in enumerate(zip(saved_list, live_list)):
            problem = _same_keys_problem(saved, live.state_dict())
            if problem:
                raise fail(f'{kind} {index}: {problem}')
    return state


def _optimizer_fit_problem(saved: dict[str, Any], live: torch.optim.Optimizer) -> str | None:
    if len(saved['param_groups']) != len(live.param_groups):
        return f"{len(saved['param_groups'])} param group(s) in the file, {len(live.param_groups)} in the model"
    params_of_id = {}
    for index, (saved_group, loaded_group, live_group) in enumerate(zip(saved['param_groups'],
                                                                        _groups_as_loaded(saved, live),
                                                                        live.param_groups)):
        if len(saved_group['params']) != len(live_group['params']):
            return (f"param group {index} holds {len(saved_group['params'])} parameters in the file, "
                    f"{len(live_group['params'])} in the model")
        problem = _same_keys_problem(loaded_group, {k: v for k, v in live_group.items() if k != 'params'})
        if problem:
            return f'param group {index}: {problem}'
        params_of_id.update(zip(saved_group['params'], live_group['params']))
    for param_id, entry in saved['state'].items():
        param = params_of_id[param_id]
        for name, value in entry.items():
            problem = _entry_problem(name, value, param) if torch.is_tensor(value) else None
            if problem:
                return f"'{name}' of parameter {param_id}: {problem}"
    return None


def _groups_as_loaded(saved: dict[str, Any], live: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """The saved param groups as ``live.load_state_dict`` would leave them: the optimiser's ``__setstate__`` fills
    the keys that newer PyTorch versions added, so a state from an older version is not refused for those."""
    probe = object.__new__(type(live))
    probe.__setstate__({'defaults': dict(live.defaults), 'state': {},
                        'param_groups': [dict(group) for group in saved['param_groups']]})
    return probe.param_groups


def _entry_problem(name: str, value: torch.Tensor, param: torch.Tensor) -> str | None:
    """What makes one per-parameter optimiser tensor unfit for ``param``, or None."""
    found, expected = tuple(value.shape), tuple(param.shape)
    if name in _SCALAR_ENTRIES or found == expected == ():
        return None if found == () else f'shape {found}, expected a scalar'
    if name in _FACTORED_ENTRIES:
        fits = len(found) == len(expected) and all(f in (e, 1) for f, e in zip(found, expected))
    else:
        fits = found == expected
    if not fits:
        return f'shape {found}, the parameter has {expected}'
    if value.is_floating_point() != param.is_floating_point() or value.is_complex() != param.is_complex():
        return f'dtype {value.dtype}, the parameter is {param.dtype}'
    return None


def _same_keys_problem(saved: Any, live: dict[str, Any]) -> str | None:
    """Whether a saved dict has every key of ``live`` with a value of the same kind (numbers, sequences of the same
    length, dicts, strings, None); extra saved keys are allowed."""
    if not isinstance(saved, dict):
        return f'a {type(saved).__name__}, not a dict'
    missing = [key for key in live if key not in saved]
    if missing:
        return f"missing {', '.join(map(str, missing[:5]))}"
    for key, value in live.items():
        if not _same_kind(saved[key], value):
            return f"'{key}' is {_describe(saved[key])}, expected {_describe(value)}"
    return None


def _same_kind(saved: Any, live: Any) -> bool:
    if _is_number(live) or isinstance(live, bool):
        return _is_number(saved) or isinstance(saved, bool)
    if isinstance(live, (list, tuple)):
        return isinstance(saved, (list, tuple)) and len(saved) == len(live)
    if live is None:
        return True  # e.g. Adam's ``foreach``/``fused``: None means "the default", anything saved is a choice
    if torch.is_tensor(live):
        return torch.is_tensor(saved) and saved.shape == live.shape
    return isinstance(saved, type(live)) or isinstance(live, dict) and isinstance(saved, dict)


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f'a {type(value).__name__} of {len(value)}'
    return f'a {type(value).__name__}'


def check_network_state(state_dict: dict[str, Any], net: torch.nn.Module, path: str | os.PathLike) -> None:
    """One CheckpointError naming ``path`` unless ``state_dict`` has exactly the tensors of ``net`` (names, shapes,
    floating or not), so that loading it cannot fail half-way or change the network's structure."""
    own = net.state_dict()
    missing, unexpected = sorted(set(own) - set(state_dict)), sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise CheckpointError(f'{path}: the tensors do not match {type(net).__name__} '
                              f'(missing {missing[:5]}, unexpected {unexpected[:5]}).')
    for name, value in state_dict.items():
        expected = own[name]
        if not torch.is_tensor(value):
            raise CheckpointError(f"{path}: '{name}' is a {type(value).__name__}, not a tensor.")
        if value.shape != expected.shape or value.is_floating_point() != expected.is_floating_point():
            raise CheckpointError(f"{path}: '{name}' is {value.dtype} {tuple(value.shape)}, "
                                  f'{type(net).__name__} has {expected.dtype} {tuple(expected.shape)}.')


def load_training_state(path: str | os.PathLike, map_location: str | torch.device = 'cpu',
                        total_iter: int | None = None) -> dict[str, Any]:
    """:func:`load_checkpoint` then :func:`validate_training_state`: a CheckpointError naming the file for a missing,
    damaged or unsafe file and for one that holds something other than a training state."""
    return validate_training_state(load_checkpoint(path, map_location), path, total_iter)


def network_files(state_path: str | os.PathLike, state: dict[str, Any], labels: Sequence[str] | None = None,
                  models_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The network files ``<models>/net_<label>_<iter>.pth`` that belong to a training state, by label.

    Labels: those the state lists (``state['networks']``) when it has them, else ``labels`` (the networks of the
    options, e.g. ``['g', 'd']``), else ``['g']``. ``models_dir`` defaults to the experiment's ``models`` folder
    beside the state's ``training_states`` folder.
    """
    labels = state.get('networks') or labels or ['g']
    models = Path(models_dir) if models_dir is not None else Path(state_path).resolve().parent.parent / 'models'
    return {label: models / f"net_{label}_{state['iter']}.pth" for label in labels}


def check_checkpoint_complete(state_path: str | os.PathLike, state: dict[str, Any],
                              labels: Sequence[str] | None = None,
                              models_dir: str | os.PathLike | None = None) -> None:
    """CheckpointError naming the state and the missing files unless every network file of
    :func:`network_files` exists."""
    missing = [str(p) for p in network_files(state_path, state, labels, models_dir).values() if not p.is_file()]
    if missing:
        raise CheckpointError(f"{state_path}: incomplete checkpoint: network file(s) {', '.join(missing)} "
                              'not found.')


# ``check(state, path)`` raises a CheckpointError when a structurally valid state does not fit the live run (the
# trainer passes :func:`check_training_state` bound to its model); resume and pruning use the same one.
StateCheck = Callable[[dict[str, Any], Path], None]


def load_resumable_state(path: str | os.PathLike, labels: Sequence[str] | None = None,
                         models_dir: str | os.PathLike | None = None, total_iter: int | None = None,
                         check: StateCheck | None = None) -> dict[str, Any]:
    """A training state to resume from: readable, structurally valid (``iter`` within ``total_iter`` when given),
    with all its network files, and passing ``check`` when given (:func:`load_training_state`,
    :func:`check_checkpoint_complete`); else a CheckpointError naming the problem."""
    state = load_training_state(path, total_iter=total_iter)
    check_checkpoint_complete(path, state, labels, models_dir)
    if check is not None:
        check(state, Path(path))
    return state


def newest_valid_states(states_dir: str | os.PathLike, models_dir: str | os.PathLike, count: int,
                        labels: Sequence[str] | None = None, total_iter: int | None = None,
                        check: StateCheck | None = None,
                        skipped: list[CheckpointError] | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """Up to ``count`` checkpoints that pass :func:`load_resumable_state`, newest first, as (path, state).

    The one validation resume, pruning and the "last complete checkpoint" message share: a state that is
    unreadable, damaged, planted or unfit is never counted; its error is appended to ``skipped`` when given.
    """
    found = []
    for path in resumable_states(states_dir, models_dir):
        if len(found) == count:
            break
        try:
            found.append((path, load_resumable_state(path, labels, models_dir, total_iter, check)))
        except CheckpointError as err:
            if skipped is not None:
                skipped.append(err)
    return found


def last_complete_checkpoint_hint(states_dir: str | os.PathLike, models_dir: str | os.PathLike,
                                  labels: Sequence[str] | None = None, total_iter: int | None = None,
                                  check: StateCheck | None = None) -> str:
    """A sentence naming the newest valid checkpoint (for an error raised while saving a newer one)."""
    complete = newest_valid_states(states_dir, models_dir, 1, labels, total_iter, check)
    if not complete:
        return 'There is no complete checkpoint yet.'
    path = complete[0][0]
    return (f'The last complete checkpoint is iteration {path.stem} ({path}); resume from it with '
            '--auto_resume once the cause is fixed.')


def resumable_states(states_dir: str | os.PathLike, models_dir: str | os.PathLike) -> list[Path]:
    """``<iter>.state`` files whose ``net_g_<iter>.pth`` exists, newest first (temporary files never match): the
    candidates, not yet loaded; :func:`newest_valid_states` keeps those that pass the validation."""
    states_dir, models_dir = Path(states_dir), Path(models_dir)
    if not states_dir.is_dir():
        return []
    found = []
    for path in states_dir.glob('*.state'):
        if path.stem.isdigit() and (models_dir / f'net_g_{path.stem}.pth').is_file():
            found.append((int(path.stem), path))
    return [path for _, path in sorted(found, reverse=True)]


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files an interrupted :func:`atomic_write` left in ``folder``; return them.

    While another live run holds the experiment folder above ``folder`` (:mod:`basicsr.utils.run_lock`), its
    temporary files are files being written: one RunLockError names that run and nothing is deleted.
    """
    folder = Path(folder)
    refuse_if_locked(folder.resolve().parent, f'remove the temporary files in {folder}')
    stale = list(folder.glob(f'.*{TMP_SUFFIX}')) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def prune_checkpoints(states_dir: str | os.PathLike, models_dir: str | os.PathLike, keep: int,
                      labels: Sequence[str] | None = None, total_iter: int | None = None,
                      check: StateCheck | None = None, protect: int | None = None) -> list[Path]:
    """Delete the networks and training states older than the newest ``keep`` valid checkpoints.

    Only checkpoints that pass the validation resume uses (:func:`newest_valid_states`) are counted, so an
    unreadable or planted state never makes the real ones look old; nothing is deleted while fewer than ``keep``
    valid ones exist, and iteration ``protect`` (the checkpoint just written) is always kept. Files of invalid
    states newer than the oldest kept checkpoint are left alone. States go first, so an interruption never leaves
    a state whose networks are gone. Returns the deleted files.
    """
    kept = newest_valid_states(states_dir, models_dir, keep, labels, total_iter, check)
    if len(kept) < keep:
        return []
    oldest_kept = min(int(path.stem) for path, _ in kept)
    if protect is not None:
        oldest_kept = min(oldest_kept, protect)
    states = [p for p in Path(states_dir).glob('*.state') if p.stem.isdigit() and int(p.stem) < oldest_kept]
    networks = [p for p in Path(models_dir).glob('net_*_*.pth')
                if p.stem.rsplit('_', 1)[1].isdigit() and int(p.stem.rsplit('_', 1)[1]) < oldest_kept]
    for path in states + networks:
        path.unlink(missing_ok=True)
    return states + networks
