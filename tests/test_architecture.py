"""The package's layers, read from the source: every import of every module of ``basicsr/`` (those inside
functions too) must point one way, entry points -> config -> models -> plug-ins -> utils, with no circle."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'basicsr'

# BasicSR's module paths kept as thin re-exports of a higher layer (plug-ins import them from there).
REEXPORT_MODULES = {'basicsr.utils.options', 'basicsr.utils.__init__'}
LAYERS = {  # lower number = lower layer; a module may import its own layer or lower ones only
    'basicsr.utils': 0, 'basicsr.version': 0,
    'basicsr.archs': 1, 'basicsr.losses': 1, 'basicsr.data': 1, 'basicsr.metrics': 1, 'basicsr.optimizers': 1,
    'basicsr.models': 2,
    'basicsr.config': 3,
    'basicsr.train': 4, 'basicsr.test': 4, 'basicsr.cli': 4, 'basicsr.__init__': 4, 'basicsr.__main__': 4,
    'basicsr.safe_path': 4,  # imported first by basicsr/__init__.py
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix('').parts
    return '.'.join(parts)


def imports_of(path: Path) -> set[str]:
    """The basicsr modules ``path`` imports, anywhere in the file (resolved to modules that exist)."""
    found = set()
    package = module_name(path).rsplit('.', 1)[0] if path.name != '__init__.py' else module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = package.split('.')[:len(package.split('.')) - node.level + 1]
                base = '.'.join(parent + ([base] if base else []))
            names = [base] + [f'{base}.{alias.name}' for alias in node.names]
        else:
            continue
        for name in names:
            if name.split('.')[0] == 'basicsr':
                resolved = existing_module(name)
                if resolved:
                    found.add(resolved)
    return found


def existing_module(name: str) -> str | None:
    parts = name.split('.')
    for end in range(len(parts), 0, -1):
        candidate = ROOT.joinpath(*parts[:end])
        if candidate.with_suffix('.py').is_file():
            return '.'.join(parts[:end])
        if (candidate / '__init__.py').is_file():
            return '.'.join(parts[:end]) + '.__init__'
    return None


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob('*.py')}
    return {name: imports_of(path) - {name} for name, path in modules.items()}


def layer_of(module: str) -> int:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + '.'):
            return LAYERS[prefix]
    raise AssertionError(f'{module}: not in any layer of LAYERS')


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module (import circles)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_sees_imports_inside_functions():
    edges = graph()
    assert 'basicsr.train' in edges['basicsr.cli']  # imported inside train_main only
    assert 'basicsr.config.__init__' in edges['basicsr.train']


def test_there_is_no_import_circle():
    assert strongly_connected(graph()) == []


def test_a_circle_would_be_found():
    assert strongly_connected({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]


def test_imports_point_down_the_layers():
    upward = sorted(f'{source} -> {target}' for source, targets in graph().items() for target in targets
                    if source not in REEXPORT_MODULES and layer_of(target) > layer_of(source))
    assert upward == []


@pytest.mark.parametrize('source', sorted(REEXPORT_MODULES))
def test_reexport_modules_only_reexport(source):
    """A BasicSR path that imports upward holds no logic of its own: imports (and a lazy attribute hook)."""
    path = ROOT.joinpath(*source.split('.')).with_suffix('.py')
    tree = ast.parse(path.read_text())
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {'Expr', 'Import', 'ImportFrom', 'Assign', 'FunctionDef'}, kinds
