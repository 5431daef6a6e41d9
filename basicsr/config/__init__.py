"""The option layer: load (YAML within limits, line map, ``--force_yml``) -> validate (framework keys, each
recipe's declared keys, plug-in signatures) -> resolve (paths, seed, devices, debug, distributed context).

The resolver is the only writer of the options; everything after it reads them.
"""
import copy
import os
import sys
from pathlib import Path
from typing import Any, Iterable

import yaml

from basicsr.config.load import KeyLines, apply_overrides, load_yaml, ordered_yaml, read_text_limited
from basicsr.config.resolve import RunContext, dataset_path_keys, resolve_options
from basicsr.config.validate import validate_options
from basicsr.utils.checkpoint import atomic_write

# Keys the resolver adds for the run (not option-file keys): left out when the options are saved.
RUNTIME_KEYS = ('is_train', 'opt_path', 'dist', 'rank', 'world_size', 'auto_resume', 'resume_command')


def read_options(opt_path: str | os.PathLike, is_train: bool = True, overrides: Iterable[str] = (),
                 lenient: bool = False) -> tuple[dict, KeyLines]:
    """Load, override and validate an option file (nothing resolved yet); also return where each key is set."""
    raw, lines = load_yaml(opt_path)
    return validate_options(apply_overrides(raw, overrides, lines), lines, is_train, lenient), lines


def parse_options(opt_path: str | os.PathLike, is_train: bool = True, overrides: Iterable[str] = (),
                  root_path: str | os.PathLike | None = None, debug: bool = False, lenient: bool = False) -> dict:
    """Read, override, validate and resolve an option file for a single process.

    Args:
        opt_path: the YAML file.
        is_train: training (paths under ``experiments/``) or testing (``results/``).
        overrides: ``--force_yml`` entries.
        root_path: base of relative paths and of ``experiments/``; ``path.root`` in the file wins, then this,
            then the current directory.
        debug: prefix the name with ``debug_`` (short frequencies).
        lenient: ignore unknown keys with a warning instead of refusing them.
    """
    opt, lines = read_options(opt_path, is_train, overrides, lenient)
    root = None if root_path is None else str(root_path)
    return resolve_options(opt, lines, RunContext(is_train=is_train, root_path=root, debug=debug))[0]


def dict2str(opt: dict, indent: int = 1) -> str:
    """The options as indented text for the log."""
    lines = []
    for key, value in opt.items():
        if isinstance(value, dict):
            lines.append(' ' * (indent * 2) + f'{key}:[')
            lines.append(dict2str(value, indent + 1))
            lines.append(' ' * (indent * 2) + ']')
        else:
            lines.append(' ' * (indent * 2) + f'{key}: {value}')
    return '\n'.join(lines)


def copy_opt_file(opt_file: str | os.PathLike, experiments_root: str | os.PathLike) -> None:
    """BasicSR's copy of the option file into the experiment folder, headed by the command that ran."""
    text = read_text_limited(opt_file)
    target = Path(experiments_root) / Path(opt_file).name
    atomic_write(target, lambda file: file.write(f"# {' '.join(sys.argv)}\n\n{text}".encode('utf-8')))


def save_options(opt: dict, path: str | os.PathLike) -> None:
    """Write the resolved options as YAML (loadable again by :func:`parse_options`), atomically: a full disk is one
    error and leaves no partial file."""
    saved = copy.deepcopy({k: v for k, v in opt.items() if k not in RUNTIME_KEYS})
    for dataset in saved['datasets'].values():
        for key in ('phase', 'scale'):
            dataset.pop(key, None)
    text = yaml.safe_dump(saved, sort_keys=False).encode('utf-8')
    atomic_write(path, lambda file: file.write(text))


__all__ = ['KeyLines', 'RunContext', 'copy_opt_file', 'dataset_path_keys', 'dict2str', 'load_yaml', 'ordered_yaml',
           'parse_options', 'read_options',
           'resolve_options', 'save_options', 'validate_options']
