"""The structure of the tree is a rule, checked on every run (docs/architecture.md)."""

from __future__ import annotations

import re
from collections import defaultdict

from tests.architecture.imports import ROOT, imports, module_files, resolve
from tests.architecture.layers import component_edges, mermaid

MAX_LINES = 600


def test_no_import_runs_up_a_layer_or_sideways() -> None:
    _, bad = component_edges()
    assert not bad, "\n".join(
        f"{i.path.relative_to(ROOT)}:{i.line}: {i.source} imports {i.target}" for i in bad
    )


def test_no_import_cycle_between_modules() -> None:
    known = {m for m, _ in module_files()}
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in imports():
        if imp.type_checking:
            continue
        target = resolve(imp.target, known)
        if target != imp.source and not imp.source.startswith(f"{target}."):
            graph[imp.source].add(target)
    cycles = _strongly_connected(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(sorted(c)) for c in cycles)


def test_no_module_over_600_lines() -> None:
    long = []
    for folder in ("core", "gateway", "cloud", "sim", "fuelwatch", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.resolve() != path:
                continue  # reached through a link in fuelwatch/: counted at its real place
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > MAX_LINES:
                long.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert not long, "\n".join(long)


def test_the_drawing_in_the_docs_is_the_tree() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    found = re.search(r"```mermaid\n(.*?)\n```", doc, re.DOTALL)
    assert found, "docs/architecture.md has no mermaid drawing"
    assert found.group(1).strip() == mermaid().strip(), (
        "the drawing is out of date: python -m tests.architecture.layers > the block in "
        "docs/architecture.md"
    )


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.add(w)
                if w == v:
                    break
            if len(scc) > 1:
                found.append(scc)

    for v in list(graph):
        if v not in index:
            visit(v)
    return found
