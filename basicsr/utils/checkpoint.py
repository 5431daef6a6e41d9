"""Safe, atomic checkpoint files.

Writing goes to a temporary file in the destination folder, which is flushed to disk and then renamed over the
destination: a crash mid-write leaves the previous file intact and never a truncated one under the final name.
Reading uses ``torch.load(weights_only=True)`` (or safetensors), so a checkpoint can hold tensors and plain
containers but never objects whose unpickling would run code.
"""
import os
import pickle
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from basicsr.utils.errors import CheckpointError
from basicsr.utils.known_files import download_hint

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
            os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes owner-only files; use what open() would
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


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = 'cpu') -> Any:
    """Load a ``.pth``/``.state`` file with ``weights_only=True``, or a ``.safetensors`` file.

    Raises CheckpointError naming the file when it is missing, damaged or holds anything but tensors and plain
    containers (such a file is refused without running any of its code).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: checkpoint file not found.{download_hint(path)}')
    if path.suffix == '.safetensors':
        return _load_safetensors(path, map_location)
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


def validate_training_state(state: Any, source: str | os.PathLike = '<training state>') -> dict[str, Any]:
    """``state`` if it has the structure of a training state, else a CheckpointError naming ``source``.

    Checks the keys the trainer reads and their types: ``iter``/``epoch`` non-negative integers (``iter`` equal to
    the file name's number for ``<iter>.state``), optimiser and scheduler states as lists of state dicts, optional
    gradient scalers, RNG states (one dict per process), best metrics, iteration in the epoch and network labels.
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
    for key, inner in (('optimizers', ('state', 'param_groups')), ('schedulers', ()), ('grad_scalers', ()),
                       ('rng', ('python', 'numpy', 'torch'))):
        for index, item in enumerate(state.get(key, [])):
            if not isinstance(item, dict) or any(k not in item for k in inner):
                needs = f" with {', '.join(inner)}" if inner else ''
                raise fail(f"'{key}[{index}]' is not a state dict{needs}")
    if not all(isinstance(label, str) and label for label in state.get('networks', [])):
        raise fail("'networks' must list network labels (non-empty strings)")
    stem = Path(source).stem
    if Path(source).suffix == '.state' and stem.isdigit() and int(stem) != state['iter']:
        raise fail(f"it says iteration {state['iter']}, its name says {stem}")
    return state


def load_training_state(path: str | os.PathLike, map_location: str | torch.device = 'cpu') -> dict[str, Any]:
    """:func:`load_checkpoint` then :func:`validate_training_state`: a CheckpointError naming the file for a missing,
    damaged or unsafe file and for one that holds something other than a training state."""
    return validate_training_state(load_checkpoint(path, map_location), path)


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


def load_resumable_state(path: str | os.PathLike, labels: Sequence[str] | None = None,
                         models_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """A training state to resume from: readable, structurally valid and with all its network files
    (:func:`load_training_state`, :func:`check_checkpoint_complete`); else a CheckpointError naming the problem."""
    state = load_training_state(path)
    check_checkpoint_complete(path, state, labels, models_dir)
    return state


def last_complete_checkpoint_hint(states_dir: str | os.PathLike, models_dir: str | os.PathLike) -> str:
    """A sentence naming the newest complete checkpoint (for an error raised while saving a newer one)."""
    complete = resumable_states(states_dir, models_dir)
    if not complete:
        return 'There is no complete checkpoint yet.'
    return (f'The last complete checkpoint is iteration {complete[0].stem} ({complete[0]}); resume from it with '
            '--auto_resume once the cause is fixed.')


def resumable_states(states_dir: str | os.PathLike, models_dir: str | os.PathLike) -> list[Path]:
    """``<iter>.state`` files whose ``net_g_<iter>.pth`` exists, newest first (temporary files never match)."""
    states_dir, models_dir = Path(states_dir), Path(models_dir)
    if not states_dir.is_dir():
        return []
    found = []
    for path in states_dir.glob('*.state'):
        if path.stem.isdigit() and (models_dir / f'net_g_{path.stem}.pth').is_file():
            found.append((int(path.stem), path))
    return [path for _, path in sorted(found, reverse=True)]


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files an interrupted :func:`atomic_write` left in ``folder``; return them."""
    folder = Path(folder)
    stale = list(folder.glob(f'.*{TMP_SUFFIX}')) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def prune_checkpoints(states_dir: str | os.PathLike, models_dir: str | os.PathLike, keep: int) -> list[Path]:
    """Delete the networks and training states older than the newest ``keep`` complete checkpoints.

    States go first, so an interruption never leaves a state whose networks are gone. Returns the deleted files.
    """
    complete = resumable_states(states_dir, models_dir)
    if len(complete) <= keep:
        return []
    oldest_kept = int(complete[keep - 1].stem)
    states = [p for p in Path(states_dir).glob('*.state') if p.stem.isdigit() and int(p.stem) < oldest_kept]
    networks = [p for p in Path(models_dir).glob('net_*_*.pth')
                if p.stem.rsplit('_', 1)[1].isdigit() and int(p.stem.rsplit('_', 1)[1]) < oldest_kept]
    for path in states + networks:
        path.unlink(missing_ok=True)
    return states + networks
