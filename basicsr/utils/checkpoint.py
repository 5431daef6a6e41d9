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
from typing import Any, Callable

import torch

from basicsr.utils.errors import CheckpointError

TMP_SUFFIX = '.tmp'


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None]) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, fsync it, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=TMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes owner-only files; use what open() would
        with os.fdopen(fd, 'wb') as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


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
        raise CheckpointError(f'{path}: checkpoint file not found.')
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
    state = checkpoint
    wrappers = [k for k in ('params', 'params_ema') if isinstance(checkpoint.get(k), dict)]
    if wrappers:
        key = param_key if param_key in wrappers else wrappers[0]
        state = checkpoint[key]
    elif param_key not in (None, 'params', 'params_ema') and param_key in checkpoint:
        state = checkpoint[param_key]
    out = OrderedDict()
    for name, value in state.items():
        if not torch.is_tensor(value):
            raise CheckpointError(f"{source}: entry '{name}' is a {type(value).__name__}, not a tensor.")
        out[name[len('module.'):] if name.startswith('module.') else name] = value
    return out


def load_state_dict(path: str | os.PathLike, param_key: str | None = 'params') -> 'OrderedDict[str, torch.Tensor]':
    """The network weights of a checkpoint file (see :func:`load_checkpoint` and :func:`extract_state_dict`)."""
    return extract_state_dict(load_checkpoint(path), param_key, str(path))


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
