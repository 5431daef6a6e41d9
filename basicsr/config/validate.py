"""Validating options: the framework's keys (:data:`basicsr.utils.option_schema.ROOT`), the keys the recipe
declares, and every plug-in's arguments against its signature. All problems are collected and raised together.

Unknown keys are errors, and the error says how to run anyway: with ``--lenient`` (or ``strict_options: false`` in
the file) they are accepted as BasicSR accepts them, listed in one warning saying what basicsr will therefore not
use. Unknown keys of a section stay in the options unvalidated (a plug-in recipe may read its own); unknown
arguments of a plug-in (network, dataset, loss, ...) are left out, since the plug-in would refuse them.
"""
import inspect
from typing import Any

import torch

import basicsr.archs  # noqa: F401  (the plug-in packages register their plug-ins on import)
import basicsr.data  # noqa: F401
import basicsr.losses  # noqa: F401
import basicsr.metrics  # noqa: F401
import basicsr.models  # noqa: F401
import basicsr.optimizers  # noqa: F401
from basicsr.config.load import KeyLines, dotted
from basicsr.utils.errors import OptionError, OptionErrors
from basicsr.utils.logger import get_root_logger
from basicsr.utils.opt_dict import takes_opt_dict
from basicsr.utils.option_schema import REQUIRED, Key, ListOf, MapOf, Plugin, Section, model_schema
from basicsr.utils.registry import REGISTRIES, accepted_arguments, check_arguments, unknown_key_error
from basicsr.utils.typecheck import check_value

LENIENT_HINT = ('To run anyway with the unknown keys ignored (as BasicSR ignores them), add --lenient to the '
                'command line or strict_options: false to the option file.')


def validate_options(raw: dict, lines: KeyLines, is_train: bool, lenient: bool = False) -> dict:
    """``raw`` checked against the schema of its model, with defaults filled in and ``is_train`` set.

    Every problem is raised at once as one :class:`OptionErrors`; under ``lenient`` the unknown keys are listed in
    one warning instead.
    """
    if is_train and 'train' not in raw:
        raise OptionError(f'{lines.where(())}: train: required for training but missing.', key_path='train')
    model_cls = None
    if isinstance(raw.get('model_type'), str) and raw['model_type'] in REGISTRIES['model']:
        model_cls = REGISTRIES['model'].get(raw['model_type'])
    lenient = lenient or raw.get('strict_options') is False
    validator = _Validator(lines, lenient)
    opt = validator.validate(raw, model_schema(model_cls), ())
    if not validator.errors:
        opt['is_train'] = is_train
        validator.errors += _cross_key_problems(opt, lines, model_cls)
    if validator.errors:
        raise OptionErrors(validator.errors, LENIENT_HINT if validator.unknown_keys else '')
    if validator.unknown:
        get_root_logger().warning(f'{lines.where(())}: unknown keys accepted (--lenient); basicsr does not use '
                                  + '; '.join(validator.unknown) + '.')
    return opt


def _cross_key_problems(opt: dict, lines: KeyLines, model_cls: type | None) -> list[OptionError]:
    """Rules across keys: a training set, patch sizes against the scale, GPUs present, the recipe's own rules."""
    problems = []
    if opt['is_train'] and not any(name.split('_')[0] == 'train' for name in opt['datasets']):
        problems.append(('datasets', "training needs a dataset named 'train'."))
    for name, dataset in opt['datasets'].items():
        gt_size = dataset.get('gt_size')
        if isinstance(gt_size, int) and (gt_size <= 0 or gt_size % opt['scale']):
            problems.append((f'datasets.{name}.gt_size',
                             f"must be a positive multiple of scale {opt['scale']}, got {gt_size}."))
    clip = (opt.get('train') or {}).get('grad_clip')
    if clip and (clip['max_norm'] is None) == (clip['clip_value'] is None):
        problems.append(('train.grad_clip', 'give exactly one of max_norm and clip_value.'))
    problems += _num_gpu_problems(opt['num_gpu'], lines)
    problems += list(getattr(model_cls, 'check_options', lambda _: ())(opt))
    return [OptionError(f"{lines.where(tuple(key.split('.')))}: {key}: {message}", key_path=key)
            for key, message in problems]


def _num_gpu_problems(num_gpu: int | str, lines: KeyLines) -> list[tuple[str, str]]:
    """More GPUs than present is an error; on a machine without any, a BasicSR file's ``num_gpu: 1`` runs on the
    CPU with a warning (so published option files run unchanged)."""
    available = torch.cuda.device_count()
    if not isinstance(num_gpu, int) or num_gpu <= available:
        return []
    if available == 0:
        get_root_logger().warning(f"{lines.where(('num_gpu',))}: num_gpu: {num_gpu}, but this machine has no GPU "
                                  "(CUDA): running on the CPU. Set num_gpu: 0 or 'auto' to silence this.")
        return []
    return [('num_gpu', f"{num_gpu} GPUs asked for, {available} present; set num_gpu to at most {available}, "
                        "or 'auto'.")]


def _what_is_lost(path: tuple, kept: bool) -> str:
    """How an unknown key reads in the lenient warning: what basicsr will not do with it."""
    key = str(path[-1])
    if path[0] == 'train' and len(path) == 2 and key.endswith('_opt'):
        what = f'{dotted(path)} (the loss {key[:-4]!r} is not trained unless the recipe computes it)'
    elif len(path) == 1 and key.startswith('network_'):
        what = f'{dotted(path)} (that network is not built unless the recipe builds it)'
    else:
        what = dotted(path)
    return what + ('' if kept else ' (left out: the plug-in does not take it)')


class _Validator:
    """Walks options and schema together, filling defaults and collecting every error (with file and line)."""

    def __init__(self, lines: KeyLines, lenient: bool) -> None:
        self.lines = lines
        self.lenient = lenient
        self.errors: list[OptionError] = []
        self.unknown: list[str] = []  # unknown keys accepted under --lenient, as the warning names them
        self.unknown_keys = False

    def fail(self, path: tuple, message: str) -> None:
        key_path = dotted(path)
        self.errors.append(OptionError(f'{self.lines.where(path)}: {key_path}: {message}', key_path=key_path))

    def record(self, err: OptionError, path: tuple) -> None:
        """Add an OptionError raised by a helper, prefixed with the file and line of its key path."""
        key = tuple(err.key_path.split('.')) if err.key_path else path
        self.errors.append(OptionError(f'{self.lines.where(key)}: {err}', key_path=err.key_path))

    def unknown_key(self, path: tuple, known: list[str], kept: bool, what: str = 'unknown key') -> bool:
        """An unknown key: accepted with --lenient (returns True), an error naming the closest known key
        otherwise."""
        if self.lenient:
            self.unknown.append(_what_is_lost(path, kept))
            return True
        self.unknown_keys = True
        self.record(unknown_key_error(path[-1], known, dotted(path), what), path)
        return False

    def validate(self, value: Any, spec: Any, path: tuple) -> Any:
        if value is None and getattr(spec, 'optional', False):  # an optional section given as ~: absent
            return None
        if isinstance(spec, Key):
            return self.key(value, spec, path)
        if isinstance(spec, ListOf):
            return self.list_of(value, spec, path)
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
            value = check_value(value, spec.annotation, dotted(path))
            if spec.registry:
                REGISTRIES[spec.registry].get(value, key_path=dotted(path))
        except OptionError as err:
            self.record(err, path)
            return value
        problem = spec.check(value) if spec.check and value is not None else None
        if problem:
            self.fail(path, f'{problem}, got {value!r}.')
        return value

    def list_of(self, value: Any, spec: ListOf, path: tuple) -> list:
        if not isinstance(value, list):
            self.fail(path, f'expected a list, got {type(value).__name__} {value!r}.')
            return value
        return [self.validate(item, spec.item, path + (index,)) for index, item in enumerate(value)]

    def section(self, value: dict, spec: Section, path: tuple) -> dict:
        out = {}
        for key, item in value.items():
            item_spec = spec.spec_of(key)
            if item_spec is not None:
                out[key] = self.validate(item, item_spec, path + (key,))
            elif self.unknown_key(path + (key,), list(spec.keys), kept=True):
                out[key] = item
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
            elif isinstance(item_spec, ListOf):
                out[key] = []
            elif isinstance(item_spec, Plugin) and not item_spec.optional:
                self.fail(path + (key,), "required but missing (a mapping with a 'type' key).")
            else:  # an optional section or plug-in: absent reads as None
                out[key] = None
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
            target = REGISTRIES[spec.registry].get(value['type'], key_path=dotted(path + ('type',)))
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
                what = f"unknown argument of {getattr(target, '__name__', value['type'])}"
                self.unknown_key(path + (key,), [*spec.keys, *accepted], False, what)
            else:
                arguments[key] = item
        errors_before = len(self.errors)
        try:
            arguments = check_arguments(target, arguments, dotted(path), injected=spec.injected)
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
