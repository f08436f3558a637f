"""No import cycles between hivemem's modules, late registrations included.

Every import counts: at the top of a module, inside a function (a late registration that
hides a cycle from the interpreter, not from the design), and under ``if TYPE_CHECKING:``
(a type-only dependency is still one). Cycles are reported as strongly connected
components: a group of modules each of which imports, directly or not, every other.

:data:`KNOWN_CYCLES` lists the groups that remain, each with the work that removes it. The
test fails on a cycle that is not listed and on a listed one that is gone or changed, so the
list only shrinks: when a change removes (or splits) a group, update its entry.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hivemem

ROOT = Path(hivemem.__file__).parent

#: The cycles that remain, by the area whose rework removes them (issue 17 removed them all).
KNOWN_CYCLES: dict[str, frozenset[str]] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module an import names: itself if it is one, else its longest known parent."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every hivemem module ``module`` imports, wherever the import statement sits."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name``, mod.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        for name in names:
            target = _resolve(name, known) if name.startswith("hivemem") else None
            if target is not None and target != module:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """Each hivemem module and the hivemem modules it imports."""
    known = _modules()
    return {module: _imports(module, path, known) for module, path in known.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The groups of two or more modules that import each other (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(frozenset(group))
    return groups


def cycle_path(graph: dict[str, set[str]], group: frozenset[str]) -> list[str]:
    """One shortest cycle through the group's first module, as a path back to it."""
    start = min(group)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph[node] & group):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start]
                if succ not in parents:
                    parents[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def _describe(graph: dict[str, set[str]], group: frozenset[str]) -> str:
    path = " -> ".join(cycle_path(graph, group))
    return f"  {sorted(group)}\n    e.g. {path}"


def test_the_walker_sees_late_and_type_only_imports() -> None:
    """An import inside a function or under TYPE_CHECKING is an edge like any other."""
    graph = import_graph()
    # hivemem.backends opens each backend inside open_backend(), by URL scheme.
    assert {"hivemem.backends.memory", "hivemem.backends.sqlite"} <= graph["hivemem.backends"]
    # hivemem.backends imports base under TYPE_CHECKING only.
    assert "hivemem.backends.base" in graph["hivemem.backends"]


def test_the_walker_finds_a_cycle() -> None:
    """Two modules importing each other make one group, reported with its path."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [frozenset({"a", "b", "c"})]
    assert cycle_path(graph, frozenset({"a", "b", "c"})) == ["a", "b", "c", "a"]


def test_no_import_cycles_beyond_the_known_ones() -> None:
    """Every cycle between hivemem's modules is a known one, and every known one remains."""
    graph = import_graph()
    found = strongly_connected(graph)
    known = set(KNOWN_CYCLES.values())
    new = [group for group in found if group not in known]
    gone = [area for area, group in KNOWN_CYCLES.items() if group not in found]
    message = ""
    if new:
        message += "import cycles (break them; a late import counts too):\n"
        message += "\n".join(_describe(graph, group) for group in new) + "\n"
    if gone:
        message += (
            f"KNOWN_CYCLES entries that no longer exist as listed (remove or update them): {gone}\n"
        )
    assert not message, message


def test_the_engine_imports_nothing_from_the_backends() -> None:
    """The engine owns its contract (hivemem.engine.txn): backends build on it, not under it."""
    graph = import_graph()
    upward = {
        module: sorted(target for target in targets if target.startswith("hivemem.backends"))
        for module, targets in graph.items()
        if module == "hivemem.engine" or module.startswith("hivemem.engine.")
    }
    assert not {module: found for module, found in upward.items() if found}
