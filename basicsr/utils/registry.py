"""Name -> class/function registries through which option files find their plug-ins."""
import difflib
import importlib
import inspect
import logging
import os
import sys
import typing
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from basicsr.utils.errors import OptionError
from basicsr.utils.typecheck import check_value


class Registry:
    """A mapping from names to plug-ins (networks, datasets, losses, models, metrics, optimisers, schedules).

    Register with ``@ARCH_REGISTRY.register()``; look up with ``ARCH_REGISTRY.get('RRDBNet')``. Registration may
    carry metadata (``@ARCH_REGISTRY.register(tiny_config={...}, licence='MIT')``), read with :meth:`info`; tests
    and listings are driven by it.

    The order of registration does not matter: a plug-in from outside the package wins over a built-in of the
    same name whether it registers before or after it, and a module imported twice replaces its own entries.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._obj_map: dict[str, Any] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self._unavailable: dict[str, str] = {}  # name -> what it needs (a package that is not installed)

    def register(self, obj: Any = None, suffix: str | None = None, *, name: str | None = None,
                 **info: Any) -> Any:
        """Register ``obj`` under ``name`` (its ``__name__`` by default, ``<name>_<suffix>`` with ``suffix``, as
        BasicSR 1.4.2); usable as a decorator. ``info`` is metadata kept beside it."""

        def deco(func_or_class: Any) -> Any:
            key = name or func_or_class.__name__
            self._add(f'{key}_{suffix}' if suffix else key, func_or_class, info)
            return func_or_class

        if obj is None:
            return deco
        return deco(obj)

    def register_unavailable(self, name: str, needs: str) -> None:
        """Mark ``name`` as known but not usable here; looking it up raises an OptionError saying what it
        ``needs`` (e.g. "needs the package 'prodigyopt': pip install ...")."""
        self._unavailable[name] = needs

    def _add(self, name: str, obj: Any, info: dict[str, Any]) -> None:
        existing = self._obj_map.get(name)
        if existing is not None and existing is not obj and not _same_definition(existing, obj):
            if _is_builtin(existing) == _is_builtin(obj):
                raise KeyError(f"An object named '{name}' is already registered in the {self._name} registry "
                               f'(by {existing.__module__}; now {obj.__module__}).')
            plugin, builtin = (existing, obj) if _is_builtin(obj) else (obj, existing)
            logging.getLogger('basicsr').warning(
                f"The {self._name} '{name}' of {plugin.__module__} replaces basicsr's own ({builtin.__module__}).")
            if plugin is existing:
                return
        self._obj_map[name] = obj
        self._info[name] = dict(info)

    def get(self, name: str, suffix: str = 'basicsr', *, key_path: str = 'type') -> Any:
        """The plug-in called ``name`` (or, as BasicSR, ``<name>_<suffix>``); an unknown name is an OptionError
        naming ``key_path`` and the closest registered name."""
        if name in self._obj_map:
            return self._obj_map[name]
        if isinstance(name, str) and f'{name}_{suffix}' in self._obj_map:
            return self._obj_map[f'{name}_{suffix}']
        if name in self._unavailable:
            raise OptionError(f"{key_path}: the {self._name} '{name}' {self._unavailable[name]}.", key_path=key_path)
        close = difflib.get_close_matches(str(name), self._obj_map, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ''
        raise OptionError(f"{key_path}: no {self._name} named '{name}'.{hint} "
                          f"Registered: {', '.join(sorted(self._obj_map))}.", key_path=key_path)

    def info(self, name: str) -> dict[str, Any]:
        """The metadata registered with ``name`` (empty when none was given)."""
        self.get(name)
        return self._info.get(name, self._info.get(f'{name}_basicsr', {}))

    def build(self, opt: Mapping[str, Any], key_path: str, **injected: Any) -> Any:
        """Instantiate ``opt['type']`` with the other keys of ``opt`` as keyword arguments.

        ``injected`` are arguments the caller supplies (e.g. ``params`` of an optimiser); they are passed too,
        but cannot be set from the option file.
        """
        cls = self.get(opt.get('type'), key_path=f'{key_path}.type')
        kwargs = check_arguments(cls, {k: v for k, v in opt.items() if k != 'type'}, key_path, injected=injected)
        return cls(**kwargs, **injected)

    def __contains__(self, name: str) -> bool:
        return name in self._obj_map

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._obj_map.items())

    def keys(self) -> list[str]:
        return list(self._obj_map)


def _same_definition(first: Any, second: Any) -> bool:
    """Whether two objects are one definition seen twice: a module imported again, under the same name or under
    another one (``archs.x_arch`` and ``project.archs.x_arch`` are one file)."""
    if getattr(first, '__qualname__', None) != getattr(second, '__qualname__', None):
        return False
    return first.__module__ == second.__module__ or _source_file(first) == _source_file(second) is not None


def _source_file(obj: Any) -> str | None:
    module = sys.modules.get(getattr(obj, '__module__', ''))
    path = getattr(module, '__file__', None)
    return os.path.realpath(path) if path else None


def _is_builtin(obj: Any) -> bool:
    """Whether ``obj`` is the project's own (or a network it registers from spandrel): a plug-in may replace it."""
    return getattr(obj, '__module__', '').startswith(('basicsr.', 'spandrel'))


def check_arguments(func: Callable, kwargs: Mapping[str, Any], key_path: str,
                    injected: Iterable[str] = ()) -> dict[str, Any]:
    """Check ``kwargs`` against ``func``'s signature and type hints; return them with values coerced.

    An unknown key (with the closest accepted one suggested), a missing required one or a value of the wrong
    type is an OptionError naming ``key_path.key``. Names in ``injected`` are supplied by the caller.
    """
    params = inspect.signature(func).parameters
    accepted = accepted_arguments(func, injected)
    hints = _type_hints(func)
    name = getattr(func, '__name__', str(func))
    checked = {}
    for key, value in kwargs.items():
        if accepted is not None and key not in accepted:
            raise unknown_key_error(key, accepted, f'{key_path}.{key}', f'unknown argument of {name}')
        checked[key] = check_value(value, hints.get(key, Any), f'{key_path}.{key}')
    for arg in accepted or ():
        param = params[arg]
        if param.default is inspect.Parameter.empty and arg not in kwargs:
            raise OptionError(f'{key_path}.{arg}: required by {name} but missing.', key_path=key_path)
    return checked


def accepted_arguments(func: Callable, injected: Iterable[str] = ()) -> list[str] | None:
    """The keyword arguments ``func`` takes, less ``injected``; None when it takes any (``**kwargs``)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in injected]


def unknown_key_error(key: Any, known: Iterable[str], key_path: str, what: str = 'unknown key') -> OptionError:
    """An OptionError for ``key`` that suggests the closest of ``known`` (or lists them)."""
    known = list(known)
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else f" Accepted: {', '.join(known)}."
    return OptionError(f'{key_path}: {what}.{hint}', key_path=key_path)


def _type_hints(func: Callable) -> dict[str, Any]:
    target = func.__init__ if inspect.isclass(func) else func
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable forward references: skip type checks rather than fail
        return {}


def import_modules(package_file: str, package_name: str, suffix: str) -> None:
    """Import every ``*{suffix}.py`` file next to ``package_file`` (not ``_private`` ones nor ``__init__``) so
    their plug-ins register themselves."""
    folder = Path(package_file).parent
    for path in sorted(folder.glob(f'*{suffix}.py')):
        if not path.stem.startswith('_'):
            importlib.import_module(f'{package_name}.{path.stem}')


DATASET_REGISTRY = Registry('dataset')
ARCH_REGISTRY = Registry('arch')
MODEL_REGISTRY = Registry('model')
LOSS_REGISTRY = Registry('loss')
METRIC_REGISTRY = Registry('metric')
OPTIMIZER_REGISTRY = Registry('optimizer')
SCHEDULER_REGISTRY = Registry('scheduler')

REGISTRIES = {
    'dataset': DATASET_REGISTRY, 'arch': ARCH_REGISTRY, 'model': MODEL_REGISTRY, 'loss': LOSS_REGISTRY,
    'metric': METRIC_REGISTRY, 'optimizer': OPTIMIZER_REGISTRY, 'scheduler': SCHEDULER_REGISTRY,
}
