"""Reading, validating and resolving option files.

``parse_options`` turns a YAML file plus command-line overrides into the plain nested dict the rest of the
framework reads (``opt['train']['total_iter']``, as in BasicSR). Every problem is reported before any work starts,
as an OptionError naming the file, line and key path.
"""
import copy
import inspect
import os
import random
from pathlib import Path
from typing import Any, Iterable

import torch
import yaml

from basicsr.utils.errors import OptionError, OptionErrors
from basicsr.utils.logger import get_root_logger
from basicsr.utils.opt_dict import takes_opt_dict
from basicsr.utils.option_schema import DATASET, REQUIRED, ROOT, TRAIN, Key, MapOf, Plugin, Section
from basicsr.utils.registry import REGISTRIES, accepted_arguments, check_arguments, load_plugins, unknown_key_error
from basicsr.utils.typecheck import check_value

_OVERRIDE = '--force_yml'
# Keys the framework adds at run time (not option-file keys).
_RUNTIME_KEYS = ('is_train', 'opt_path', 'dist', 'rank', 'world_size', 'auto_resume', 'resume_command')
# Keys under ``datasets.*`` that are paths, resolved against ``path.root`` when relative.
DATASET_PATH_KEYS = ('dataroot_gt', 'dataroot_lq', 'dataroot', 'dataroot_source', 'dataroot_target',
                      'meta_info_file', 'meta_info')


def _dotted(path: tuple) -> str:
    """A key path as written in messages: ``datasets.train.gt_size``."""
    return '.'.join(map(str, path))


class _Lines(dict):
    """Key path (tuple) -> where it was set, e.g. ``options/x.yml, line 12``."""

    def where(self, path: tuple) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in self:
                return self[path[:end]]
        return self.get((), '')


# Limits on option files: a real one is a few kilobytes; an alias bomb expands a small file exponentially.
MAX_OPTION_FILE_BYTES = 1 << 20
MAX_OPTION_NODES = 100_000


def load_yaml(path: str | os.PathLike) -> tuple[dict, _Lines]:
    """Load a YAML option file with the safe loader; return the data and where each key is set.

    Syntax errors, duplicate keys, tags that would build Python objects, files over
    :data:`MAX_OPTION_FILE_BYTES` and alias expansions over :data:`MAX_OPTION_NODES` nodes are OptionErrors
    naming the file (and line).
    """
    path = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_OPTION_FILE_BYTES:
            raise OptionError(f'{path}: the option file is {size:,d} bytes; option files are limited to '
                              f'{MAX_OPTION_FILE_BYTES:,d} bytes.')
        text = Path(path).read_text(encoding='utf-8')
    except OSError as err:
        raise OptionError(f'{path}: cannot read the option file ({err.strerror or err}).') from err
    except UnicodeDecodeError as err:
        raise OptionError(f'{path}: the option file is not UTF-8 text ({err.reason} at byte {err.start}).') from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_expansion(node, path)
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
    _record_lines(node, (), path, lines, set())
    return data, lines


def _check_expansion(root: yaml.Node | None, path: str) -> None:
    """Count the nodes of the document with every alias expanded (memoised per node, so in linear time)."""
    sizes: dict[int, int] = {}

    def expanded(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 0  # a recursive alias counts once
            children = node.value if isinstance(node, yaml.SequenceNode) else (
                [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
            sizes[id(node)] = min(1 + sum(expanded(child) for child in children), MAX_OPTION_NODES + 1)
        return sizes[id(node)]

    if root is not None and expanded(root) > MAX_OPTION_NODES:
        raise OptionError(f'{path}: the option file expands to more than {MAX_OPTION_NODES:,d} values through '
                          'YAML aliases (&anchor / *alias); refusing it.')


def _record_lines(node: yaml.Node, prefix: tuple, path: str, lines: _Lines, visited: set[int]) -> None:
    """Record where each key is set; a node reached again through an alias is not walked again."""
    if not isinstance(node, yaml.MappingNode) or id(node) in visited:
        return
    visited.add(id(node))
    seen = set()
    for key_node, value_node in node.value:
        key = yaml.constructor.SafeConstructor().construct_object(key_node, deep=True)
        where = f'{path}, line {key_node.start_mark.line + 1}'
        if isinstance(key, (dict, list)):
            raise OptionError(f'{where}: a key must be a plain value, found a {type(key).__name__}.')
        if key in seen:
            raise OptionError(f'{where}: {_dotted(prefix + (key,))}: key given twice.')
        seen.add(key)
        lines[prefix + (key,)] = where
        _record_lines(value_node, prefix + (key,), path, lines, visited)


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


def model_schema(model_cls: type | None) -> tuple[Section, bool]:
    """The root schema for ``model_cls``: :data:`ROOT` plus the keys the model declares (``root_options``,
    ``train_options``, merged along its class hierarchy), and whether undeclared keys are errors.

    The project's own models and third-party models that declare keys are strict. A third-party model that
    declares nothing (a BasicSR plug-in) is lenient: keys nobody declares are passed to it unvalidated.
    """
    root_keys, train_keys, declared = {}, {}, False
    for cls in reversed(getattr(model_cls, '__mro__', ())):
        own = vars(cls)
        root_keys.update(own.get('root_options', {}))
        train_keys.update(own.get('train_options', {}))
        third_party = not cls.__module__.startswith('basicsr.') and cls.__module__ != 'builtins'
        declared |= third_party and ('root_options' in own or 'train_options' in own)
    strict = model_cls is None or model_cls.__module__.startswith('basicsr.') or declared
    schema = ROOT.extended({**root_keys, 'train': TRAIN.extended(train_keys)})
    return schema, strict


def validate_options(raw: dict, lines: _Lines) -> dict:
    """Check ``raw`` against the schema of its model (and plug-in signatures); return it with defaults filled in.

    Every problem is collected, then all are raised together as one :class:`OptionErrors`. Keys passed unvalidated
    to a lenient third-party model are listed in one warning.
    """
    load_plugins()
    model_cls = None
    if isinstance(raw.get('model_type'), str) and raw['model_type'] in REGISTRIES['model']:
        model_cls = REGISTRIES['model'].get(raw['model_type'])
    schema, strict = model_schema(model_cls)
    validator = _Validator(lines, strict)
    opt = validator.validate(raw, schema, ())
    if validator.errors:
        raise OptionErrors(validator.errors)
    if validator.passed:
        get_root_logger().warning(
            f"{lines.where(())}: {raw['model_type']} declares no option keys; passed to it unvalidated: "
            + ', '.join(validator.passed) + '.')
    return opt


def fill_defaults(opt: dict, model_cls: type) -> None:
    """Add, in place, the defaults of every key ``opt`` lacks (for options a program builds by hand, as BasicSR's
    tests and plug-ins do) and the run-time keys of a single process. Nothing is checked: parsed options already
    are, and hand-made ones are the program's business."""
    schema, _ = model_schema(model_cls)
    _fill(opt, schema)
    for key, default in (('is_train', True), ('dist', False), ('rank', 0), ('world_size', 1),
                         ('auto_resume', False)):
        opt.setdefault(key, default)
    if opt['num_gpu'] == 'auto':
        opt['num_gpu'] = torch.cuda.device_count()


def _fill(opt: dict, section: Section) -> None:
    for key, spec in section.keys.items():
        if isinstance(spec, Key) and key not in opt and spec.default is not REQUIRED:
            opt[key] = copy.deepcopy(spec.default)
        elif isinstance(spec, Section) and (key in opt or not spec.optional):
            if isinstance(opt.setdefault(key, {}), dict):
                _fill(opt[key], spec)
        elif isinstance(spec, MapOf) and key not in opt:
            opt[key] = {}
        elif isinstance(spec, Plugin) and isinstance(opt.get(key), dict):
            _fill(opt[key], Section(spec.keys))


class _Validator:
    """Walks options and schema together, filling defaults and collecting every error (with file and line)."""

    def __init__(self, lines: _Lines, strict: bool) -> None:
        self.lines = lines
        self.strict = strict
        self.errors: list[OptionError] = []
        self.passed: list[str] = []  # key paths given to a lenient model unvalidated

    def fail(self, path: tuple, message: str) -> None:
        dotted = _dotted(path)
        self.errors.append(OptionError(f'{self.lines.where(path)}: {dotted}: {message}', key_path=dotted))

    def record(self, err: OptionError, path: tuple) -> None:
        """Add an OptionError raised by a helper, prefixed with the file and line of its key path."""
        key = tuple(err.key_path.split('.')) if err.key_path else path
        self.errors.append(OptionError(f'{self.lines.where(key)}: {err}', key_path=err.key_path))

    def validate(self, value: Any, spec: Any, path: tuple) -> Any:
        if isinstance(spec, Key):
            return self.key(value, spec, path)
        if not isinstance(value, dict):
            self.fail(path, f'expected a mapping, got {type(value).__name__} {value!r}.')
            return value
        if isinstance(spec, Section):
            return self.section(value, spec, path)
        if isinstance(spec, MapOf):
            return self.mapping(value, spec, path)
        return self.plugin(value, spec, path)

    def key(self, value: Any, spec: Key, path: tuple) -> Any:
        try:
            value = check_value(value, spec.annotation, _dotted(path))
            if spec.registry:
                REGISTRIES[spec.registry].get(value, _dotted(path))
        except OptionError as err:
            self.record(err, path)
            return value
        problem = spec.check(value) if spec.check and value is not None else None
        if problem:
            self.fail(path, f'{problem}, got {value!r}.')
        return value

    def section(self, value: dict, spec: Section, path: tuple) -> dict:
        out = {}
        for key, item in value.items():
            item_spec = spec.spec_of(key)
            if item_spec is not None:
                out[key] = self.validate(item, item_spec, path + (key,))
            elif self.strict:
                dotted = _dotted(path + (key,))
                self.record(unknown_key_error(key, spec.keys, dotted), path + (key,))
            else:
                out[key] = item
                self.passed.append(_dotted(path + (key,)))
        for key, item_spec in spec.keys.items():
            if key in value:
                continue
            if isinstance(item_spec, Key):
                if item_spec.default is REQUIRED:
                    self.fail(path + (key,), 'required but missing.')
                out[key] = item_spec.default
            elif isinstance(item_spec, Section) and not item_spec.optional:
                out[key] = self.section({}, item_spec, path + (key,))
            elif isinstance(item_spec, MapOf):
                out[key] = {}
            elif isinstance(item_spec, Plugin) and not item_spec.optional:
                self.fail(path + (key,), "required but missing (a mapping with a 'type' key).")
        return out

    def mapping(self, value: dict, spec: MapOf, path: tuple) -> dict:
        out = {}
        for name, item in value.items():
            problem = spec.name_check(str(name)) if spec.name_check else None
            if problem:
                self.fail(path + (name,), problem + '.')
            out[name] = self.validate(item, spec.item, path + (name,))
        return out

    def plugin(self, value: dict, spec: Plugin, path: tuple) -> dict:
        if 'type' not in value:
            self.fail(path + ('type',), f'required but missing (names the {spec.registry} to use).')
            return value
        if not isinstance(value['type'], str):
            self.fail(path + ('type',), f"expected the name of a {spec.registry}, got {value['type']!r}.")
            return value
        try:
            target = REGISTRIES[spec.registry].get(value['type'], _dotted(path + ('type',)))
        except OptionError as err:
            self.record(err, path)
            return value
        framework = self.section({k: v for k, v in value.items() if k in spec.keys}, Section(spec.keys), path)
        if inspect.isclass(target) and takes_opt_dict(target):  # a BasicSR plug-in reading one dict: its keys
            return {**value, **framework}                         # are its own business
        accepted = accepted_arguments(target, spec.injected)
        arguments = {}
        for key, item in value.items():
            if key == 'type' or key in spec.keys:
                continue
            if accepted is not None and key not in accepted:
                dotted = _dotted(path + (key,))
                what = f"unknown argument of {getattr(target, '__name__', value['type'])}"
                self.record(unknown_key_error(key, [*spec.keys, *accepted], dotted, what), path + (key,))
            else:
                arguments[key] = item
        errors_before = len(self.errors)
        try:
            arguments = check_arguments(target, arguments, _dotted(path), injected=spec.injected)
        except OptionError as err:
            self.record(err, path)
        if len(self.errors) > errors_before:
            return {'type': value['type'], **framework, **arguments}
        for key, check in spec.arg_checks.items():
            problem = check(arguments[key]) if arguments.get(key) is not None else None
            if problem:
                self.fail(path + (key,), f'{problem}, got {arguments[key]!r}.')
        for check in spec.cross_checks:
            found = check(arguments)
            if found:
                self.fail(path + (found[0],), found[1] + '.')
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
    errors = []
    if is_train and not any(name.split('_')[0] == 'train' for name in opt['datasets']):
        errors.append(OptionError(f"{lines.where(('datasets',))}: datasets: training needs a dataset named "
                                  "'train'.", key_path='datasets'))
    for name, dataset in opt['datasets'].items():
        gt_size = dataset.get('gt_size')
        if isinstance(gt_size, int) and (gt_size <= 0 or gt_size % opt['scale']):
            where = lines.where(('datasets', name, 'gt_size'))
            errors.append(OptionError(f"{where}: datasets.{name}.gt_size: must be a positive multiple of scale "
                                      f"{opt['scale']}, got {gt_size}.", key_path=f'datasets.{name}.gt_size'))
    errors += _check_num_gpu(opt['num_gpu'], lines)
    opt['is_train'] = is_train
    check_options = getattr(REGISTRIES['model'].get(opt['model_type']), 'check_options', lambda _: ())
    for key_path, message in check_options(opt):
        path = tuple(key_path.split('.'))
        errors.append(OptionError(f'{lines.where(path)}: {key_path}: {message}', key_path=key_path))
    if errors:
        raise OptionErrors(errors)
    if debug and 'debug' not in opt['name']:
        opt['name'] = f"debug_{opt['name']}"
    opt['opt_path'] = str(opt_path)
    for name, dataset in opt['datasets'].items():
        dataset['phase'] = name.split('_')[0]
        dataset['scale'] = opt['scale']
    if opt['manual_seed'] is None:
        opt['manual_seed'] = random.randint(1, 10000)
    resolve_paths(opt, root_path)
    return opt


def _check_num_gpu(num_gpu: int | str, lines: _Lines) -> list[OptionError]:
    """More GPUs than present is an error; on a machine without any, a BasicSR file's ``num_gpu: 1`` runs on the
    CPU with a warning (so published option files run unchanged)."""
    available = torch.cuda.device_count()
    if not isinstance(num_gpu, int) or num_gpu <= available:
        return []
    where = lines.where(('num_gpu',))
    if available == 0:
        get_root_logger().warning(f'{where}: num_gpu: {num_gpu}, but this machine has no GPU (CUDA): running on the '
                                  "CPU. Set num_gpu: 0 or 'auto' to silence this.")
        return []
    return [OptionError(f"{where}: num_gpu: {num_gpu} GPUs asked for, {available} present; set num_gpu to at most "
                        f"{available}, or 'auto'.", key_path='num_gpu')]


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
        for key in DATASET_PATH_KEYS:
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
        if 'debug' in opt['name']:
            opt['val']['val_freq'] = 8
            opt['logger']['print_freq'] = 1
            opt['logger']['save_checkpoint_freq'] = 8
    else:
        base = inside_root('results_root', paths['results_root'] or f"results/{opt['name']}")
        paths.update(results_root=str(base), log=str(base), visualization=str(base / 'visualization'))


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
