"""Write the documentation generated from the code: the option reference, the network list and the JSON Schema.

    python scripts/gen_docs.py            # rewrite docs/reference/options.md, docs/reference/networks.md and
                                          # schema/basicsr-options.schema.json
    python scripts/gen_docs.py --check    # exit status 1, naming the files, when a committed one is stale

The option reference walks the framework's schema (:data:`basicsr.utils.option_schema.ROOT`) and the keys every
registered recipe declares (``root_options`` / ``train_options``, merged as ``model_schema`` merges them). The JSON
Schema is made from the same walk, so an editor (VS Code's YAML extension, with a
``# yaml-language-server: $schema=...`` line) completes and checks option files with the parser's rules.
"""
import argparse
import inspect
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Callable, Iterator

import _bootstrap  # noqa: F401  (makes basicsr importable from a checkout)

import basicsr.archs  # noqa: F401,E402  (the plug-in packages register their plug-ins on import)
import basicsr.data  # noqa: F401,E402
import basicsr.losses  # noqa: F401,E402
import basicsr.metrics  # noqa: F401,E402
import basicsr.models  # noqa: F401,E402
from basicsr.archs.arch_info import declared_input_multiple  # noqa: E402
from basicsr.utils import option_schema as schema  # noqa: E402
from basicsr.utils.opt_dict import takes_opt_dict  # noqa: E402
from basicsr.utils.option_schema import REQUIRED, Key, ListOf, MapOf, Plugin, Section, model_schema  # noqa: E402
from basicsr.utils.registry import REGISTRIES, _type_hints, accepted_arguments  # noqa: E402
from basicsr.utils.typecheck import describe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OPTIONS_PAGE = ROOT / 'docs' / 'reference' / 'options.md'
NETWORKS_PAGE = ROOT / 'docs' / 'reference' / 'networks.md'
JSON_SCHEMA = ROOT / 'schema' / 'basicsr-options.schema.json'
SCHEMA_URL = 'https://json-schema.org/draft-07/schema#'
NUMERIC_STRING = r'^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$'  # '2e-4': a string in YAML 1.1, a number here
NETWORK_INFO_KEYS = ('source', 'licence', 'official_config', 'input_multiple')

# What each range check of the schema allows: the text of the reference and the bounds of the JSON Schema.
CHECKS: dict[Callable, tuple[str, dict[str, Any]]] = {
    schema.positive: ('> 0', {'exclusiveMinimum': 0}),
    schema.non_negative: ('>= 0', {'minimum': 0}),
    schema.finite_positive: ('finite, > 0', {'exclusiveMinimum': 0}),
    schema.finite_non_negative: ('finite, >= 0', {'minimum': 0}),
    schema.positive_odd: ('odd, > 0', {'exclusiveMinimum': 0}),
    schema.unit_interval: ('in [0, 1)', {'minimum': 0, 'exclusiveMaximum': 1}),
    schema.adam_betas: ('numbers in [0, 1)', {'items': {'minimum': 0, 'exclusiveMaximum': 1}}),
    schema.plain_name: ("a plain name (no '/', '\\' or '..')", {'pattern': r'^(?!\.\.?$)[^/\\\x00]+$'}),
}


# ----------------------------------------------------------------------------------------------- the schema walk
def recipes() -> list[tuple[str, type]]:
    """The project's own recipes (a process that loaded plug-in projects has theirs registered too)."""
    return sorted((name, cls) for name, cls in REGISTRIES['model'] if cls.__module__.startswith('basicsr.'))


def merged_root() -> Section:
    """:data:`ROOT` with the keys of every registered recipe (the union of their ``model_schema``)."""
    root_keys, train_keys = {}, {}
    for _, cls in recipes():
        section = model_schema(cls)
        root_keys.update({k: v for k, v in section.keys.items() if k != 'train'})
        train_keys.update(section.keys['train'].keys)
    return schema.ROOT.extended({**root_keys, 'train': schema.TRAIN.extended(train_keys)})


def declaring_recipes() -> dict[str, list[str]]:
    """Key path -> the recipes that declare it (keys of :data:`ROOT` itself are the framework's: absent)."""
    framework = {path for path, _ in walk(schema.ROOT, '')}
    owners: dict[str, list[str]] = {}
    for name, cls in recipes():
        for path, _ in walk(model_schema(cls), ''):
            if path not in framework:
                owners.setdefault(path, []).append(name)
    return owners


def walk(spec: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every key path of ``spec`` (``datasets.<phase>.batch_size_per_gpu``, ``path.pretrain_network_<label>``,
    ``train.losses[].target``) with its spec, parents before children."""
    if isinstance(spec, Section):
        items = [*spec.keys.items(), *((_pattern_name(p), s) for p, s in spec.patterns.items())]
        for key, item in items:
            child = f'{path}.{key}' if path else key
            yield child, item
            yield from walk(item, child)
    elif isinstance(spec, MapOf):
        name = '<phase>' if path == 'datasets' else '<name>'
        yield from _walk_item(spec.item, f'{path}.{name}')
    elif isinstance(spec, ListOf):
        yield from _walk_item(spec.item, f'{path}[]')
    elif isinstance(spec, Plugin):
        for key, item in spec.keys.items():
            yield f'{path}.{key}', item
            yield from walk(item, f'{path}.{key}')


def _walk_item(item: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, item
    yield from walk(item, path)


def _pattern_name(pattern: str) -> str:
    """``pretrain_network_\\w+`` -> ``pretrain_network_<label>``."""
    return pattern.replace(r'\w+', '<label>')


# ------------------------------------------------------------------------------------------- the option reference
def options_page() -> str:
    owners = declaring_recipes()
    rows = ['| key | type | default | allowed | what it does |', '| --- | --- | --- | --- | --- |']
    for path, spec in walk(merged_root(), ''):
        what = _doc(spec)
        if path in owners:
            readers = 'every recipe' if len(owners[path]) == len(recipes()) else ', '.join(owners[path])
            what = f'{what} *({readers})*'.lstrip()
        rows.append(f'| `{path}` | {_type_text(spec)} | {_default_text(spec)} | {_allowed_text(spec)} | '
                    f'{_cell(what)} |')
    return '\n'.join([
        '# Option reference',
        '',
        '*Generated by `python scripts/gen_docs.py` from `basicsr/utils/option_schema.py` and the keys each '
        'recipe declares; do not edit by hand.*',
        '',
        'Every key an option file may set. Keys in *italic parentheses* are read only by the recipes named there '
        '(`model_type`); the others by the framework. A plug-in section (`network_g`, `train.optim_g`, a loss, a '
        'dataset, a metric) takes `type`, the keys listed here, and the constructor arguments of the plug-in '
        '`type` names: those of the networks are on [the network list](networks.md). Unknown keys are errors '
        'naming the file, line and closest key. `~` is YAML for none.',
        '',
        *rows,
        '',
        *plugin_tables(),
        '## Editor completion and checking',
        '',
        '`schema/basicsr-options.schema.json` is a JSON Schema made from the same definitions. With VS Code\'s '
        'YAML extension (or any editor using yaml-language-server), put this first line in an option file:',
        '',
        '```yaml',
        '# yaml-language-server: $schema=../schema/basicsr-options.schema.json',
        '```',
        '',
        '(the path relative to the option file), and the editor completes keys, shows these descriptions, and '
        'marks misspelt keys, wrong types and out-of-range values. Plug-in arguments are checked for the '
        'registered plug-ins; the parser remains the authority (it also checks what a schema cannot, such as '
        'files that must exist).',
        '',
    ])


PLUGIN_SECTIONS = (('dataset', 'Datasets (`datasets.<phase>`)'), ('loss', 'Losses (`train.*_opt`, `train.losses`)'),
                   ('metric', 'Metrics (`val.metrics.<name>`)'), ('optimizer', 'Optimisers (`train.optim_*`)'),
                   ('scheduler', 'Schedules (`train.scheduler`)'))


def plugin_tables() -> list[str]:
    """For each plug-in kind but networks (on their own page): every registered plug-in and its arguments."""
    lines = []
    for registry, title in PLUGIN_SECTIONS:
        injected = {'dataset': ('phase', 'scale'), 'metric': ('img', 'img2'), 'optimizer': ('params',),
                    'scheduler': ('optimizer',)}.get(registry, ())
        lines += [f'## {title}', '', '| `type` | arguments (default) |', '| --- | --- |']
        for name, target in sorted(REGISTRIES[registry]):
            arguments = [f'`{arg}` ({default})' if default != 'required' else f'`{arg}`'
                         for arg, _, default in _arguments(target) if arg not in injected]
            lines.append(f"| `{name}` | {_cell(', '.join(arguments) or 'any (declared by the plug-in)')} |")
        lines.append('')
    return lines


def _doc(spec: Any) -> str:
    if isinstance(spec, Key):
        return spec.doc
    if isinstance(spec, Plugin):
        article = 'an' if spec.registry[0] in 'aeiou' else 'a'
        return f'{article} {spec.registry}: `type` and its arguments'
    if isinstance(spec, MapOf):
        return 'a mapping of names to sections'
    if isinstance(spec, ListOf):
        return 'a list of sections'
    return 'a section'


def _type_text(spec: Any) -> str:
    if isinstance(spec, Key):
        return _cell(describe(spec.annotation))
    if isinstance(spec, Plugin):
        return f'{spec.registry} plug-in'
    return {Section: 'mapping', MapOf: 'mapping', ListOf: 'list'}[type(spec)]


def _default_text(spec: Any) -> str:
    if isinstance(spec, Key):
        if spec.default is REQUIRED:
            return '**required**'
        return '`~`' if spec.default is None else f'`{json.dumps(spec.default)}`'
    if isinstance(spec, Plugin):
        return '-' if spec.optional else '**required**'
    return '-'


def _allowed_text(spec: Any) -> str:
    if not isinstance(spec, Key):
        return ''
    parts = []
    if spec.check is not None:
        parts.append(CHECKS.get(spec.check, ('checked when the file is read', {}))[0])
    if spec.registry:
        parts.append(f'a registered {spec.registry}')
    return _cell('; '.join(parts))


def _cell(text: str) -> str:
    return text.replace('|', '\\|').replace('\n', ' ')


# ----------------------------------------------------------------------------------------------- the network list
def networks_page() -> str:
    lines = ['# Network list', '',
             '*Generated by `python scripts/gen_docs.py` from the network registry; do not edit by hand.*', '',
             'Every `type` that `network_g` / `network_d` accept, with its constructor arguments (the option keys). '
             'Published weights, key layouts and parameter counts: [Networks](../networks.md).', '']
    for name, cls in sorted(REGISTRIES['arch']):
        lines += [f'## {name}', '']
        summary = (inspect.getdoc(cls) or '').split('\n\n')[0].replace('\n', ' ')
        if summary:
            lines += [summary, '']
        info = REGISTRIES['arch'].info(name)
        module = inspect.getmodule(cls).__name__.replace('.', '/') + '.py'
        if callable(info.get('input_multiple')):  # follows an argument (the window size): at the official values
            info = {**info, 'input_multiple': f"{declared_input_multiple(name, info.get('official_config', {}))} "
                                              '(with the official configuration)'}
        facts = [f'defined in `{module}`'] + [f'{key.replace("_", " ")}: {_info_text(info[key])}'
                                               for key in NETWORK_INFO_KEYS if info.get(key) is not None]
        lines += ['; '.join(facts) + '.', '']
        arguments = _arguments(cls)
        if arguments:
            lines += ['| argument | type | default |', '| --- | --- | --- |']
            lines += [f'| `{arg}` | {_cell(kind)} | {_cell(default if default == "required" else f"`{default}`")} |'
                      for arg, kind, default in arguments]
            lines.append('')
    return '\n'.join(lines)


def _yaml_text(value: Any) -> str:
    """A default as an option file writes it: ``~``, ``true``, ``[0.9, 0.99]``, ``'HWC'``."""
    if value is None:
        return '~'
    if callable(value):  # e.g. a lambda default: its repr holds a memory address
        return f'a function ({getattr(value, "__qualname__", "callable")})'
    try:
        return json.dumps(value) if not isinstance(value, str) else repr(value)
    except TypeError:
        return repr(value)


def _info_text(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return f'<{text}>' if text.startswith(('http://', 'https://')) else f'`{text}`' if ' ' not in text else text


def _arguments(cls: type) -> list[tuple[str, str, str]]:
    accepted = accepted_arguments(cls)
    if accepted is None:
        return []
    hints = _type_hints(cls)
    params = inspect.signature(cls).parameters
    out = []
    for arg in accepted:
        default = params[arg].default
        out.append((arg, describe(hints[arg]) if arg in hints else 'any',
                    'required' if default is inspect.Parameter.empty else _yaml_text(default)))
    return out


# --------------------------------------------------------------------------------------------------- JSON Schema
def json_schema() -> dict[str, Any]:
    writer = _JsonSchemaWriter()
    root = writer.convert(merged_root())
    return {'$schema': SCHEMA_URL, 'title': 'basicsr option file',
            'description': 'Generated by scripts/gen_docs.py from basicsr/utils/option_schema.py; '
                           'see docs/reference/options.md.',
            **root, 'definitions': writer.definitions}


class _JsonSchemaWriter:
    """Converts schema specs; each plug-in section is written once under ``definitions`` and referenced."""

    def __init__(self) -> None:
        self.definitions: dict[str, Any] = {}
        self.names: dict[int, str] = {}  # id of a Plugin spec -> its definition's name

    def convert(self, spec: Any) -> dict[str, Any]:
        if isinstance(spec, Key):
            return _json_key(spec)
        if isinstance(spec, Section):
            out = {'type': 'object', 'properties': {k: self.convert(v) for k, v in spec.keys.items()},
                   'additionalProperties': False}
            if spec.patterns:
                out['patternProperties'] = {f'^{p}$': self.convert(v) for p, v in spec.patterns.items()}
            required = [k for k, v in spec.keys.items() if isinstance(v, Key) and v.default is REQUIRED]
            return {**out, 'required': required} if required else out
        if isinstance(spec, MapOf):
            out = {'type': 'object', 'additionalProperties': self.convert(spec.item)}
            if spec.name_check is not None:  # dataset phases, the only named mapping with a rule
                out['propertyNames'] = {'pattern': '^(train|val|test)(_|$)'}
            return out
        if isinstance(spec, ListOf):
            return {'type': 'array', 'items': self.convert(spec.item)}
        return {'$ref': f'#/definitions/{self.plugin_definition(spec)}'}

    def plugin_definition(self, spec: Plugin) -> str:
        """The name of ``spec``'s definition, written on first use: ``type`` is one of the registered names, and
        for each, ``then`` lists the keys it accepts (the framework's and its constructor's), so a misspelt
        argument is marked. Plug-ins that take any key accept any."""
        if id(spec) in self.names:
            return self.names[id(spec)]
        taken = sum(name.split('_')[0] == spec.registry for name in self.definitions)
        name = spec.registry + (f'_{taken + 1}' if taken else '')
        self.names[id(spec)] = name
        self.definitions[name] = {}  # reserved before the keys are converted
        framework = {k: self.convert(v) for k, v in spec.keys.items()}
        registry = REGISTRIES[spec.registry]
        cases = []
        for plugin, target in sorted(registry):
            accepted = accepted_arguments(target, spec.injected)
            if accepted is None or (inspect.isclass(target) and takes_opt_dict(target)):
                continue
            hints = _type_hints(target)
            arguments = {arg: _json_type(hints.get(arg, Any)) for arg in accepted}
            for arg, check in spec.arg_checks.items():  # range checks of arguments (lr > 0, ...)
                if arg in arguments:
                    arguments[arg].update(CHECKS.get(check, ('', {}))[1])
            cases.append({'if': {'properties': {'type': {'const': plugin}}},
                          'then': {'properties': {'type': {}, **framework, **arguments},
                                   'additionalProperties': False}})
        out = {'type': 'object', 'required': ['type'],
               'properties': {'type': {'enum': sorted(registry.keys()), 'description': f'the {spec.registry} to use'},
                              **framework}}
        self.definitions[name] = {**out, 'allOf': cases} if cases else out
        return name


def _json_key(spec: Key) -> dict[str, Any]:
    out = _json_type(spec.annotation)
    if spec.check is not None:
        out.update(CHECKS.get(spec.check, ('', {}))[1])
    if spec.registry:
        out = {'enum': sorted(REGISTRIES[spec.registry].keys())}
    if spec.doc:
        out['description'] = spec.doc
    if spec.default is not REQUIRED and spec.default is not None:
        out['default'] = spec.default
    return out


def _json_type(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of a type annotation, with the coercions :mod:`basicsr.utils.typecheck` applies."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [_json_type(a) for a in args]
        return {} if {} in parts else {'anyOf': parts}
    if origin is typing.Literal:
        return {'enum': list(args)}
    if annotation is type(None):
        return {'type': 'null'}
    if annotation is bool:
        return {'type': 'boolean'}
    if annotation in (int, float):
        return {'anyOf': [{'type': 'integer' if annotation is int else 'number'},
                          {'type': 'string', 'pattern': NUMERIC_STRING}]}
    if annotation is str:
        return {'type': 'string'}
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        items = [a for a in args if a is not Ellipsis]
        return {'type': 'array', 'items': _json_type(items[0])} if len(set(items)) == 1 else {'type': 'array'}
    if origin is dict or annotation is dict:
        return {'type': 'object'}
    return {}


# --------------------------------------------------------------------------------------------------------- main
def generated() -> dict[Path, str]:
    """Every generated file and the text it should hold."""
    return {OPTIONS_PAGE: options_page(), NETWORKS_PAGE: networks_page(),
            JSON_SCHEMA: json.dumps(json_schema(), indent=1, sort_keys=False) + '\n'}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true', help='compare with the committed files; write nothing')
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated().items():
        if args.check:
            if not path.is_file() or path.read_text(encoding='utf-8') != text:
                stale.append(str(path.relative_to(ROOT)))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding='utf-8')
        print(f'wrote {path.relative_to(ROOT)}')
    if stale:
        print(f"stale: {', '.join(stale)}; run python scripts/gen_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
