"""No import cycle among emoctl's modules (docs/architecture.md), function-level imports included.

Read from the source's AST: every ``import emoctl.x`` / ``from emoctl.x import y`` anywhere in a
module (top level, inside functions, under ``TYPE_CHECKING``) is an edge to the most specific
emoctl module it names (``from emoctl import hub`` is an edge to ``emoctl.hub``). Parent packages
that Python imports implicitly are not edges: a package's ``__init__`` re-exporting its own
modules is not a cycle, a module and its sibling importing each other is.
"""

from __future__ import annotations

import ast

from tests.test_layering import source_modules


def _module_graph() -> dict[str, set[str]]:
    paths = dict(source_modules())
    modules = set(paths)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against this module's package
                    base = module if is_package else module.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    stem = f"{base}.{node.module}" if node.module else base
                else:
                    stem = node.module or ""
                targets = [f"{stem}.{a.name}" for a in node.names]
            for target in targets:
                if target.split(".")[0] != "emoctl":
                    continue
                found = resolve(target)
                if found and found != module:
                    graph[module].add(found)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    cycles = _cycles(_module_graph())
    assert not cycles, "import cycles among emoctl modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_imports_are_edges():
    graph = _module_graph()
    # emoctl.modulators imports emoctl.hub; the Hub code must not import the modulators back.
    assert "emoctl.hub" in graph["emoctl.modulators"]
    assert "emoctl.modulators" not in graph["emoctl.hub"]
