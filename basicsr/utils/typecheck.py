"""Checking option values against type annotations, with the few coercions YAML needs.

Used both for the fixed option schema and for plug-in constructor arguments (read from their type hints), so
one rule decides what e.g. ``lr: 2e-4`` (a string in YAML 1.1) or ``val_freq: !!float 5e3`` become.
"""
import collections.abc
import inspect
import types
import typing
from typing import Any

from basicsr.utils.errors import OptionError

_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.Iterable)
_MAPPINGS = (dict, collections.abc.Mapping)


class _Mismatch(Exception):
    pass


def check_value(value: Any, annotation: Any, key_path: str) -> Any:
    """Return ``value`` converted to ``annotation`` or raise OptionError naming ``key_path``.

    Conversions: integral floats to int (``5e3`` -> 5000), numeric strings to numbers (``'2e-4'`` -> 0.0002),
    tuples from YAML lists (kept as lists). Annotations this does not understand accept anything.
    """
    try:
        return _coerce(value, annotation)
    except _Mismatch:
        raise OptionError(f'{key_path}: expected {describe(annotation)}, got {type(value).__name__} {value!r}.',
                          key_path=key_path) from None


def describe(annotation: Any) -> str:
    """A short human-readable name for an annotation, e.g. ``int or None``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return ' or '.join(describe(a) for a in typing.get_args(annotation) if not _is_tensor(a))
    if origin is typing.Literal:
        return 'one of ' + ', '.join(repr(a) for a in typing.get_args(annotation))
    if annotation is type(None) or annotation is None:
        return 'None (~)'
    if origin in _SEQUENCES or annotation in _SEQUENCES:
        return 'a list'
    if origin in _MAPPINGS or annotation in _MAPPINGS:
        return 'a mapping'
    return getattr(annotation, '__name__', str(annotation))


def _is_tensor(annotation: Any) -> bool:
    return getattr(annotation, '__name__', '') == 'Tensor'


def _coerce(value: Any, ann: Any) -> Any:
    if ann is Any or ann is inspect.Parameter.empty:
        return value
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(value, typing.get_args(ann))
    if origin is typing.Literal:
        if value in typing.get_args(ann):
            return value
        raise _Mismatch
    if ann is None or ann is type(None):
        if value is None:
            return None
        raise _Mismatch
    if origin in _SEQUENCES or ann in _SEQUENCES:
        return _coerce_sequence(value, origin, typing.get_args(ann))
    if origin in _MAPPINGS or ann in _MAPPINGS:
        return _coerce_mapping(value, typing.get_args(ann))
    if ann is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if ann is int:
        return _to_int(value)
    if ann is float:
        return _to_float(value)
    if ann is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if isinstance(ann, type) and not _is_tensor(ann):
        if isinstance(value, ann):
            return value
        raise _Mismatch
    return value


def _coerce_union(value: Any, members: tuple) -> Any:
    # Exact matches first, so that e.g. ``int | str`` keeps the string '5' a string.
    for member in members:
        if isinstance(member, type) and not _is_tensor(member) and type(value) is member:
            return value
    for member in members:
        if _is_tensor(member):
            continue
        try:
            return _coerce(value, member)
        except _Mismatch:
            continue
    raise _Mismatch


def _coerce_sequence(value: Any, origin: Any, args: tuple) -> list:
    if not isinstance(value, (list, tuple)):
        raise _Mismatch
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise _Mismatch
        return [_coerce(v, a) for v, a in zip(value, args)]
    item = args[0] if args else Any
    return [_coerce(v, item) for v in value]


def _coerce_mapping(value: Any, args: tuple) -> dict:
    if not isinstance(value, dict):
        raise _Mismatch
    if len(args) != 2:
        return value
    return {_coerce(k, args[0]): _coerce(v, args[1]) for k, v in value.items()}


def _parse_number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise _Mismatch from None


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Mismatch
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = _parse_number(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Mismatch


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Mismatch
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _parse_number(value)
    raise _Mismatch
