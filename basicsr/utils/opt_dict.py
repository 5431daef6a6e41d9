"""BasicSR's calling convention (one options dict) for plug-ins that declare their options as keyword arguments.

The project's datasets declare the keys they read in their constructor's signature, which the option validator
checks; BasicSR builds every dataset as ``cls(opt)``. :func:`accept_opt_dict` gives such a class both: called with
one mapping, the constructor unpacks it (framework keys dropped, the rest checked against the same signature);
called with keywords, it behaves as written. ``inspect.signature(cls)`` still shows the keyword signature.
"""
import functools
import inspect
from typing import Any, Iterable, Mapping

from basicsr.utils.registry import accepted_arguments, check_arguments


def takes_opt_dict(cls: type) -> bool:
    """Whether the constructor of ``cls`` is BasicSR's ``__init__(self, opt)``, declaring none of its keys."""
    params = list(inspect.signature(cls).parameters)
    return bool(params) and params[0] == 'opt'


def accept_opt_dict(cls: type, framework_keys: Iterable[str], injected: Iterable[str] = ()) -> type:
    """Let ``cls(opt)`` build ``cls``, whose constructor takes keyword arguments, from one options dict.

    The dict is unpacked: ``type`` and ``framework_keys`` (read by the framework, e.g. ``batch_size_per_gpu``) are
    dropped; ``injected`` keys (e.g. ``phase``, ``scale``) are passed when the constructor takes them; missing keys
    take the constructor's defaults; any other key must be an argument: an unknown one is an OptionError naming it
    with the closest argument, and values are type-checked like option files. When the dict comes from a subclass
    with a BasicSR-style ``__init__(self, opt)`` calling ``super().__init__(opt)``, keys the constructor does not
    take are the subclass's own and are left to it.

    Either way the instance gets ``opt``, as BasicSR datasets have: the dict given (a copy) with the defaults
    filled in, or the keyword arguments with their defaults. Idempotent; classes already taking ``opt`` are left
    as they are.
    """
    init = cls.__init__
    if takes_opt_dict(cls) or getattr(init, '_accepts_opt_dict', False):
        return cls
    dropped = frozenset(framework_keys) | {'type'}
    injected = frozenset(injected)

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) == 1 and not kwargs and isinstance(args[0], Mapping):
            opt = args[0]
            args, kwargs = (), _arguments(cls, opt, dropped, injected, strict=type(self).__init__ is __init__)
            self.opt = {**opt, **_bound_options(cls, (), kwargs)}
        else:
            self.opt = _bound_options(cls, args, kwargs)
        init(self, *args, **kwargs)

    __init__._accepts_opt_dict = True
    cls.__init__ = __init__
    return cls


def _arguments(cls: type, opt: Mapping[str, Any], dropped: frozenset, injected: frozenset,
               strict: bool) -> dict[str, Any]:
    """The keyword arguments of ``cls`` that ``opt`` holds, checked and coerced like option-file values."""
    accepted = accepted_arguments(cls)
    kwargs = {}
    for key, value in opt.items():
        if key in dropped:
            continue
        if accepted is not None and key not in accepted and (key in injected or not strict):
            continue
        kwargs[key] = value
    return check_arguments(cls, kwargs, cls.__name__)


def _bound_options(cls: type, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The options a keyword call amounts to: every argument by name, defaults included."""
    bound = inspect.signature(cls).bind(*args, **kwargs)
    bound.apply_defaults()
    options = {}
    for name, value in bound.arguments.items():
        kind = bound.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            options.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            options[name] = value
    return options
