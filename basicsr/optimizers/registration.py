"""Registering the optimisers of other packages by their class names.

A package that is not installed registers nothing; its names are marked unavailable, so that an option file naming
one gets an error saying what to install rather than "no optimizer named ...".
"""
import functools
import importlib
import importlib.util
import inspect
import typing
from typing import Any, Callable, Iterable

from basicsr.utils.registry import OPTIMIZER_REGISTRY

EXTRA = 'optim'  # the setup.py extra that installs every optional optimiser package


def register_package_optimizers(module_name: str, names: Iterable[str], distribution: str,
                                lazy: bool = False) -> None:
    """Register ``names`` of ``module_name`` (installed from PyPI as ``distribution``) in the optimiser registry;
    ``lazy``: import the package only when one of them is first validated or built (for a package slow to import)."""
    if importlib.util.find_spec(module_name) is None:
        for name in names:
            OPTIMIZER_REGISTRY.register_unavailable(
                name, f"needs the package '{distribution}': pip install 'basicsr[{EXTRA}]' (or {distribution})")
        return
    for name in names:
        optimizer = _LazyOptimizer(module_name, name) if lazy else _factory(
            getattr(importlib.import_module(module_name), name))
        OPTIMIZER_REGISTRY.register(optimizer, name=name, package=distribution)


class _LazyOptimizer:
    """Stands for the optimiser ``name`` of ``module_name``, imported at the first look at its signature or call:
    the option validator and the registry see the real signature and type hints."""

    def __init__(self, module_name: str, name: str) -> None:
        self.module_name, self.__name__, self.__qualname__ = module_name, name, name
        self.__module__ = __name__

    @functools.cached_property
    def optimizer_class(self) -> type:
        return getattr(importlib.import_module(self.module_name), self.__name__)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(_factory(self.optimizer_class))

    @property
    def __annotations__(self) -> dict[str, Any]:
        return _resolved_hints(self.optimizer_class)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _factory(self.optimizer_class)(*args, **kwargs)


def _factory(cls: type) -> type | Callable[..., Any]:
    """``cls`` itself, or a function building it that

    - hides a ``**kwargs`` of its constructor from the option validator (pytorch-optimizer stores any unknown
      keyword in the parameter groups, so a misspelt key would silently do nothing), and
    - starts a schedule-free optimiser in train mode (it is built in eval mode, where a step is an error).
    """
    signature = inspect.signature(cls)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    has_modes = callable(getattr(cls, 'train', None)) and callable(getattr(cls, 'eval', None))
    if not takes_any and not has_modes:
        return cls

    def build(*args: Any, **kwargs: Any) -> Any:
        optimizer = cls(*args, **kwargs)
        if has_modes:
            optimizer.train()
        return optimizer

    build.__signature__ = signature.replace(
        parameters=[p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD])
    build.__annotations__ = _resolved_hints(cls)
    build.__name__, build.__qualname__, build.__doc__ = cls.__name__, cls.__qualname__, cls.__doc__
    build.optimizer_class = cls
    return build


def _resolved_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable forward references: no type checks for its arguments rather than none at all
        return {}
