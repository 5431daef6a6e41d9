"""Reading option files: YAML with the safe loader, within limits, with the file and line of every key.

The same limits apply to every piece of YAML a run reads (the option file and each ``--force_yml`` value): bytes
actually read (not the size a file claims: ``-opt /dev/zero``), nesting depth (5,000 nested ``[`` would exhaust
the parser's recursion) and the node count with every alias expanded (an alias bomb).
"""
import os
from collections import OrderedDict
from typing import Any, Iterable

import yaml

from basicsr.utils.errors import OptionError

OVERRIDE_FLAG = '--force_yml'
MAX_OPTION_FILE_BYTES = 1 << 20  # a real option file is a few kilobytes
MAX_OPTION_NODES = 100_000       # values after alias expansion
MAX_OPTION_DEPTH = 64            # nested mappings/lists


def dotted(path: tuple) -> str:
    """A key path as written in messages: ``datasets.train.gt_size``."""
    return '.'.join(map(str, path))


class KeyLines(dict):
    """Key path (tuple) -> where it was set, e.g. ``options/x.yml, line 12``."""

    def where(self, path: tuple) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in self:
                return self[path[:end]]
        return self.get((), '')


def read_text_limited(path: str | os.PathLike, what: str = 'option file', limit: int | None = None) -> str:
    """The UTF-8 text of ``path``, reading at most ``limit`` bytes (:data:`MAX_OPTION_FILE_BYTES` by default;
    one more tells that it is too large)."""
    limit = MAX_OPTION_FILE_BYTES if limit is None else limit
    try:
        with open(path, 'rb') as file:
            data = file.read(limit + 1)
    except OSError as err:
        raise OptionError(f'{path}: cannot read the {what} ({err.strerror or err}).') from err
    if len(data) > limit:
        raise OptionError(f'{path}: the {what} is larger than {limit:,d} bytes, the limit; refusing it.')
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as err:
        raise OptionError(f'{path}: the {what} is not UTF-8 text ({err.reason} at byte {err.start}).') from None


def compose_limited(text: str, where: str) -> yaml.Node | None:
    """The YAML node graph of ``text``, refused (OptionError naming ``where``) when it nests deeper than
    :data:`MAX_OPTION_DEPTH` or expands to more than :data:`MAX_OPTION_NODES` values through aliases."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):  # events are streamed: no recursion
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_OPTION_DEPTH:
                    mark = event.start_mark
                    raise OptionError(f'{where}, line {mark.line + 1}: values nest more than {MAX_OPTION_DEPTH} '
                                      'levels deep; refusing it.')
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        raise _yaml_error(err, where) from None
    if node is not None and _expanded_size(node) > MAX_OPTION_NODES:
        raise OptionError(f'{where}: expands to more than {MAX_OPTION_NODES:,d} values through YAML aliases '
                          '(&anchor / *alias); refusing it.')
    return node


def _expanded_size(root: yaml.Node) -> int:
    """The node count with every alias expanded (memoised per node, so in linear time)."""
    sizes: dict[int, int] = {}

    def expanded(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 0  # a recursive alias counts once
            children = node.value if isinstance(node, yaml.SequenceNode) else (
                [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
            sizes[id(node)] = min(1 + sum(expanded(child) for child in children), MAX_OPTION_NODES + 1)
        return sizes[id(node)]

    return expanded(root)


def construct(node: yaml.Node | None, where: str) -> Any:
    """The Python value of a checked node graph (safe tags only: ``!!python/object`` is refused)."""
    if node is None:
        return None
    try:
        return yaml.SafeLoader('').construct_document(node)
    except yaml.YAMLError as err:
        raise _yaml_error(err, where) from None


def _yaml_error(err: yaml.YAMLError, where: str) -> OptionError:
    """A YAML error as one line naming the file (and line and column, when known)."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        line = f', line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        return OptionError(f'{where}{line}: invalid YAML: {err.problem or err.context}.')
    return OptionError(f'{where}: invalid YAML: {err}.')


class _OrderedSafeLoader(yaml.SafeLoader):
    """The safe loader, mappings as OrderedDict (BasicSR's ``ordered_yaml``; plain dicts keep order anyway)."""


class _OrderedSafeDumper(yaml.SafeDumper):
    """The safe dumper, writing an OrderedDict as a plain mapping."""


_OrderedSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                   lambda loader, node: OrderedDict(loader.construct_pairs(node)))
_OrderedSafeDumper.add_representer(OrderedDict, lambda dumper, data: dumper.represent_dict(data.items()))


def ordered_yaml() -> tuple[type[yaml.SafeLoader], type[yaml.SafeDumper]]:
    """BasicSR's ``(Loader, Dumper)`` pair for PyYAML's loading and dumping, safe here: a ``!!python`` tag is
    refused."""
    return _OrderedSafeLoader, _OrderedSafeDumper


def load_yaml(path: str | os.PathLike) -> tuple[dict, KeyLines]:
    """Load an option file; return the data and where each key is set. Every problem is an OptionError naming
    the file (and line)."""
    path = str(path)
    node = compose_limited(read_text_limited(path), path)
    data = construct(node, path)
    if not isinstance(data, dict):
        raise OptionError(f'{path}: an option file must be a mapping of keys to values, '
                          f'found {type(data).__name__}.')
    lines = KeyLines({(): path})
    _record_lines(node, (), path, lines, set())
    return data, lines


def _record_lines(node: yaml.Node, prefix: tuple, path: str, lines: KeyLines, visited: set[int]) -> None:
    """Record where each key is set; a node reached again through an alias is not walked again."""
    if not isinstance(node, yaml.MappingNode) or id(node) in visited:
        return
    visited.add(id(node))
    seen = set()
    for key_node, value_node in node.value:
        where = f'{path}, line {key_node.start_mark.line + 1}'
        key = construct(key_node, where)
        if isinstance(key, (dict, list)):
            raise OptionError(f'{where}: a key must be a plain value, found a {type(key).__name__}.')
        if key in seen:
            raise OptionError(f'{where}: {dotted(prefix + (key,))}: key given twice.')
        seen.add(key)
        lines[prefix + (key,)] = where
        _record_lines(value_node, prefix + (key,), path, lines, visited)


def apply_overrides(opt: dict, overrides: Iterable[str], lines: KeyLines) -> dict:
    """``opt`` with the ``--force_yml`` entries ``a:b:c=value`` applied (values are YAML, so ``~``, ``true`` and
    ``[1, 2]`` work, under the same limits as files). The loaded dict is changed in place and returned."""
    for entry in overrides:
        where = f'{OVERRIDE_FLAG} {entry[:80]}'
        if '=' not in entry:
            raise OptionError(f"{where}: expected 'key:subkey=value'.")
        keys, text = entry.split('=', 1)
        if len(text.encode()) > MAX_OPTION_FILE_BYTES:
            raise OptionError(f'{where}: the value is larger than {MAX_OPTION_FILE_BYTES:,d} bytes; refusing it.')
        value = construct(compose_limited(text, where), where)
        path = tuple(k.strip() for k in keys.split(':'))
        target = opt
        for depth, key in enumerate(path[:-1]):
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise OptionError(f"{where}: {'.'.join(path[:depth + 1])} is not a mapping.")
        target[path[-1]] = value
        lines[path] = where
    return opt

