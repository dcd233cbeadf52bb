"""The package's import graph, read with ``ast``: no cycles, and the layers of
``docs/architecture.md`` respected (a module never imports a higher layer).

Every ``import`` statement counts, including the lazy ones inside functions: a lazy import
hides a dependency from the reader of the module header, it does not remove it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "gridregime"

#: Layers of docs/architecture.md, lowest first: (layer, module prefixes). The longest matching
#: prefix decides a module's layer.
LAYERS = (
    (0, ("errors", "symbols", "timeutil", "verdicts", "levels", "_atomic", "overrides")),
    (1, ("bars", "config")),
    (2, ("_libs", "kernels")),
    (3, ("snapshot", "collect.sources")),
    (4, ("analysis",)),
    (5, ("grid",)),
    (6, ("service",)),
    (7, ("backtest", "collect.importer", "collect.collector", "collect.summary", "collect", "dashboard",
         "server", "demo")),
    (8, ("commands", "cli", "__main__")),
)


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module ``name`` lives in (``a.b.C`` → ``a.b`` when ``C`` is not a module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(_owner(a.name) for a in node.names if a.name.split(".")[0] == "gridregime")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "gridregime":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else _owner(target))
    found.discard(None)
    found.discard(module)
    return found  # type: ignore[return-value]


GRAPH = {m: _imports(m) for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def _layer(module: str) -> int | None:
    name = module.removeprefix("gridregime").lstrip(".")
    best = None
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), layer)
    return None if best is None else best[1]


def test_the_graph_and_the_layers_are_read():
    assert "gridregime.snapshot.reader" in GRAPH["gridregime.snapshot"]
    assert "gridregime.snapshot.decode" in GRAPH["gridregime.snapshot.validate"]
    assert "gridregime.grid.supervisor" in GRAPH["gridregime.service"]  # a lazy import counts
    assert [_layer(m) for m in ("gridregime.timeutil", "gridregime.collect.sources.base", "gridregime.collect",
                                "gridregime.collect.importer", "gridregime.commands.batch")] == [0, 3, 7, 7, 8]


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_among_gridregime_modules():
    assert _cycles(GRAPH) == []


def test_every_module_has_a_layer():
    """A new module is placed in a layer (here and in docs/architecture.md) before it is checked."""
    assert sorted(m for m in GRAPH if _layer(m) is None) == ["gridregime"]  # the lazy public API


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _layer(m) is not None))
def test_lower_layers_never_import_higher_ones(module):
    mine = _layer(module)
    higher = sorted(dep for dep in GRAPH[module] if (_layer(dep) or 0) > mine)
    assert higher == [], f"{module} (layer {mine}) imports a higher layer: {higher}"
