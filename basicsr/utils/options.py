"""Reading, validating and resolving option files.

``parse_options`` turns a YAML file plus command-line overrides into the plain nested dict the rest of the
framework reads (``opt['train']['total_iter']``, as in BasicSR). Every problem is reported before any work starts,
as an OptionError naming the file, line and key path.
"""
import contextlib
import copy
import os
import random
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from basicsr.utils.errors import OptionError
from basicsr.utils.option_schema import DATASET, REQUIRED, ROOT, Key, MapOf, Plugin, Section
from basicsr.utils.registry import REGISTRIES, accepted_arguments, check_arguments, load_plugins, unknown_key_error
from basicsr.utils.typecheck import check_value

_OVERRIDE = '--force_yml'
# Keys the framework adds at run time (not option-file keys).
_RUNTIME_KEYS = ('is_train', 'opt_path', 'dist', 'rank', 'world_size', 'auto_resume')
# Keys under ``datasets.*`` that are paths, resolved against ``path.root`` when relative.
_DATASET_PATH_KEYS = ('dataroot_gt', 'dataroot_lq', 'dataroot', 'dataroot_source', 'dataroot_target',
                      'meta_info_file')


class _Lines(dict):
    """Key path (tuple) -> where it was set, e.g. ``options/x.yml, line 12``."""

    def where(self, path: tuple) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in self:
                return self[path[:end]]
        return self.get((), '')


def load_yaml(path: str | os.PathLike) -> tuple[dict, _Lines]:
    """Load a YAML option file with the safe loader; return the data and where each key is set.

    Syntax errors, duplicate keys and tags that would build Python objects are OptionErrors with file and line.
    """
    path = str(path)
    try:
        text = Path(path).read_text(encoding='utf-8')
    except OSError as err:
        raise OptionError(f'{path}: cannot read the option file ({err.strerror or err}).') from err
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f', line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        raise OptionError(f'{path}{line}: invalid YAML: {err.problem or err.context}.') from None
    except yaml.YAMLError as err:
        raise OptionError(f'{path}: invalid YAML: {err}.') from None
    if not isinstance(data, dict):
        raise OptionError(f'{path}: an option file must be a mapping of keys to values, '
                          f'found {type(data).__name__}.')
    lines = _Lines({(): path})
    _record_lines(node, (), path, lines)
    return data, lines


def _record_lines(node: yaml.Node, prefix: tuple, path: str, lines: _Lines) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    seen = set()
    for key_node, value_node in node.value:
        key = yaml.constructor.SafeConstructor().construct_object(key_node, deep=True)
        where = f'{path}, line {key_node.start_mark.line + 1}'
        if key in seen:
            raise OptionError(f"{where}: {'.'.join(map(str, prefix + (key,)))}: key given twice.")
        seen.add(key)
        lines[prefix + (key,)] = where
        _record_lines(value_node, prefix + (key,), path, lines)


def apply_overrides(opt: dict, overrides: Iterable[str], lines: _Lines) -> None:
    """Apply ``--force_yml`` entries ``a:b:c=value`` (value parsed as YAML, so ``~``, ``true``, ``[1, 2]`` work)."""
    for entry in overrides:
        if '=' not in entry:
            raise OptionError(f"{_OVERRIDE} {entry}: expected 'key:subkey=value'.")
        keys, value = entry.split('=', 1)
        path = tuple(k.strip() for k in keys.split(':'))
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise OptionError(f'{_OVERRIDE} {entry}: the value is not valid YAML ({err}).') from None
        target = opt
        for depth, key in enumerate(path[:-1]):
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise OptionError(f"{_OVERRIDE} {entry}: {'.'.join(path[:depth + 1])} is not a mapping.")
        target[path[-1]] = value
        lines[path] = f'{_OVERRIDE} {entry}'


def validate_options(raw: dict, lines: _Lines) -> dict:
    """Check ``raw`` against the schema (and plug-in signatures); return it with defaults filled in."""
    load_plugins()
    return _validate(raw, ROOT, (), lines)


def _fail(lines: _Lines, path: tuple, message: str) -> OptionError:
    dotted = '.'.join(map(str, path))
    return OptionError(f'{lines.where(path)}: {dotted}: {message}', key_path=dotted)


def _validate(value: Any, spec: Any, path: tuple, lines: _Lines) -> Any:
    if isinstance(spec, Key):
        return _validate_key(value, spec, path, lines)
    if not isinstance(value, dict):
        raise _fail(lines, path, f'expected a mapping, got {type(value).__name__} {value!r}.')
    if isinstance(spec, Section):
        return _validate_section(value, spec.keys, path, lines)
    if isinstance(spec, MapOf):
        return _validate_map(value, spec, path, lines)
    return _validate_plugin(value, spec, path, lines)


@contextlib.contextmanager
def _located(lines: _Lines, path: tuple) -> Iterator[None]:
    """Prefix OptionErrors raised inside with the file and line of their key path."""
    try:
        yield
    except OptionError as err:
        key = tuple(err.key_path.split('.')) if err.key_path else path
        raise OptionError(f'{lines.where(key)}: {err}', key_path=err.key_path) from None


def _validate_key(value: Any, spec: Key, path: tuple, lines: _Lines) -> Any:
    with _located(lines, path):
        value = check_value(value, spec.annotation, '.'.join(path))
        if spec.registry:
            REGISTRIES[spec.registry].get(value, '.'.join(path))
    problem = spec.check(value) if spec.check and value is not None else None
    if problem:
        raise _fail(lines, path, f'{problem}, got {value!r}.')
    return value


def _validate_section(value: dict, keys: dict, path: tuple, lines: _Lines) -> dict:
    for key in value:
        if key not in keys:
            _raise_unknown(key, keys, path, lines)
    out = {}
    for key, spec in keys.items():
        if key in value:
            out[key] = _validate(value[key], spec, path + (key,), lines)
        elif isinstance(spec, Key):
            if spec.default is REQUIRED:
                raise _fail(lines, path + (key,), 'required but missing.')
            out[key] = spec.default
        elif isinstance(spec, Section) and not spec.optional:
            out[key] = _validate_section({}, spec.keys, path + (key,), lines)
        elif isinstance(spec, MapOf):
            out[key] = {}
        elif isinstance(spec, Plugin) and not spec.optional:
            raise _fail(lines, path + (key,), f"required but missing (a mapping with a 'type' key).")
    return out


def _raise_unknown(key: Any, known: Iterable[str], path: tuple, lines: _Lines) -> None:
    dotted = '.'.join(map(str, path + (key,)))
    raise OptionError(f'{lines.where(path + (key,))}: {unknown_key_error(key, known, dotted)}', key_path=dotted)


def _validate_map(value: dict, spec: MapOf, path: tuple, lines: _Lines) -> dict:
    out = {}
    for name, item in value.items():
        problem = spec.name_check(str(name)) if spec.name_check else None
        if problem:
            raise _fail(lines, path + (name,), problem + '.')
        out[name] = _validate(item, spec.item, path + (name,), lines)
    return out


def _validate_plugin(value: dict, spec: Plugin, path: tuple, lines: _Lines) -> dict:
    if 'type' not in value:
        raise _fail(lines, path + ('type',), f'required but missing (names the {spec.registry} to use).')
    with _located(lines, path):
        target = REGISTRIES[spec.registry].get(value['type'], '.'.join(path + ('type',)))
    accepted = accepted_arguments(target, spec.injected)
    if accepted is not None:
        for key in value:
            if key != 'type' and key not in spec.keys and key not in accepted:
                _raise_unknown(key, [*spec.keys, *accepted], path, lines)
    framework = _validate_section({k: v for k, v in value.items() if k in spec.keys}, spec.keys, path, lines)
    arguments = {k: v for k, v in value.items() if k not in spec.keys and k != 'type'}
    with _located(lines, path):
        arguments = check_arguments(target, arguments, '.'.join(path), injected=spec.injected)
    for key, check in spec.arg_checks.items():
        problem = check(arguments[key]) if arguments.get(key) is not None else None
        if problem:
            raise _fail(lines, path + (key,), f'{problem}, got {arguments[key]!r}.')
    return {'type': value['type'], **framework, **arguments}


def parse_options(opt_path: str | os.PathLike, is_train: bool = True, overrides: Iterable[str] = (),
                  root_path: str | os.PathLike | None = None, debug: bool = False) -> dict:
    """Read, override, validate and resolve an option file.

    Args:
        opt_path: the YAML file.
        is_train: training (paths under ``experiments/``) or testing (``results/``).
        overrides: ``--force_yml`` entries.
        root_path: base of relative paths and of ``experiments/``; ``path.root`` in the file wins, then this,
            then the current directory.
        debug: prefix the name with ``debug_`` (short frequencies, see :func:`resolve_paths`).
    """
    raw, lines = load_yaml(opt_path)
    apply_overrides(raw, overrides, lines)
    if is_train and 'train' not in raw:
        raise OptionError(f"{opt_path}: train: required for training but missing.", key_path='train')
    opt = validate_options(raw, lines)
    if is_train and not any(name.split('_')[0] == 'train' for name in opt['datasets']):
        raise _fail(lines, ('datasets',), "training needs a dataset named 'train'.")
    if debug and 'debug' not in opt['name']:
        opt['name'] = f"debug_{opt['name']}"
    opt['is_train'] = is_train
    opt['opt_path'] = str(opt_path)
    for name, dataset in opt['datasets'].items():
        dataset['phase'] = name.split('_')[0]
        dataset['scale'] = opt['scale']
        gt_size = dataset.get('gt_size')
        if isinstance(gt_size, int) and (gt_size <= 0 or gt_size % opt['scale']):
            raise _fail(lines, ('datasets', name, 'gt_size'),
                        f"must be a positive multiple of scale {opt['scale']}, got {gt_size}.")
    if opt['manual_seed'] is None:
        opt['manual_seed'] = random.randint(1, 10000)
    resolve_paths(opt, root_path)
    return opt


def resolve_paths(opt: dict, root_path: str | os.PathLike | None = None) -> None:
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
        for key in _DATASET_PATH_KEYS:
            if isinstance(dataset.get(key), str):
                dataset[key] = absolute(dataset[key])
    for key in ('pretrain_network_g', 'pretrain_network_d', 'resume_state'):
        paths[key] = absolute(paths[key])
    if opt['prepare_demo_data']:
        opt['prepare_demo_data'] = absolute(opt['prepare_demo_data'])

    if opt['is_train']:
        base = inside_root('experiments_root', paths['experiments_root'] or f"experiments/{opt['name']}")
        paths.update(experiments_root=str(base), models=str(base / 'models'),
                     training_states=str(base / 'training_states'), log=str(base),
                     visualization=str(base / 'visualization'))
        if 'debug' in opt['name']:
            opt['val']['val_freq'] = 8
            opt['logger']['print_freq'] = 1
            opt['logger']['save_checkpoint_freq'] = 8
    else:
        base = inside_root('results_root', paths['results_root'] or f"results/{opt['name']}")
        paths.update(results_root=str(base), log=str(base), visualization=str(base / 'visualization'))


def check_dataset_paths(opt: dict) -> None:
    """Every data folder and meta-info file the datasets name must exist (checked before any work starts)."""
    for name, dataset in opt['datasets'].items():
        for key in _DATASET_PATH_KEYS:
            value = dataset.get(key)
            if isinstance(value, str) and not Path(value).exists():
                raise OptionError(f'datasets.{name}.{key}: {value} does not exist.', key_path=f'datasets.{name}.{key}')


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


def save_options(opt: dict, path: str | os.PathLike) -> None:
    """Write the resolved options as YAML (loadable again by :func:`parse_options`)."""
    saved = copy.deepcopy({k: v for k, v in opt.items() if k not in _RUNTIME_KEYS})
    for dataset in saved['datasets'].values():
        for key in DATASET.injected:
            dataset.pop(key, None)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(saved, sort_keys=False), encoding='utf-8')
