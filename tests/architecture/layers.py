"""The layers of the tree, lowest first, and the drawing docs/architecture.md shows.

A module may import its own component and any component of a *lower* level, nothing else:
no import runs up a layer or sideways between components of one level.
"""

from __future__ import annotations

from collections import Counter

from tests.architecture.imports import Import, imports, module_files, resolve

#: component -> level. Top: the composition root; then the three sides; then the core.
LEVELS: dict[str, int] = {
    "core": 0,
    # the cloud's subsystems, each a package under cloud/
    "cloud.common": 1,
    "cloud.store": 2,
    "cloud.accounts": 3,
    "cloud.provisioning": 3,
    "cloud.departments": 4,
    "cloud.warnings": 5,
    "cloud.rules": 6,
    "cloud.alerts": 6,
    "cloud.ingest": 7,
    "cloud.api": 8,
    "cloud.grafana": 8,
    "cloud.console": 9,  # the web console: pages over the API's routes, served by its app
    "cloud": 10,  # cloud/__init__.py and cloud/cli.py (the service table)
    "gateway": 1,
    "sim": 1,
    "root": 11,  # fuelwatch/: the CLI table, the local stack, the demo
}
SIDES = ("gateway", "sim")  # station side and virtual station: each on the core only


def component(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2:
        return "root"
    side = parts[1]
    if side == "core":
        return "core"
    if side in SIDES:
        return side
    if side == "cloud":
        sub = f"cloud.{parts[2]}" if len(parts) > 2 else "cloud"
        return sub if sub in LEVELS else "cloud"
    return "root"


def allowed(source: str, target: str) -> bool:
    if source == target:
        return True
    if source in SIDES or target in SIDES:
        return target == "core" or source == "root"
    if source.startswith("cloud") and not target.startswith("cloud"):
        return target == "core"
    return LEVELS[target] < LEVELS[source]


def component_edges() -> tuple[Counter[tuple[str, str]], list[Import]]:
    """(source, target) component pairs with counts, and every import that breaks a rule."""
    known = {m for m, _ in module_files()}
    edges: Counter[tuple[str, str]] = Counter()
    bad: list[Import] = []
    for imp in imports():
        src, dst = component(imp.source), component(resolve(imp.target, known))
        if src == dst:
            continue
        edges[src, dst] += 1
        if not allowed(src, dst):
            bad.append(imp)
    return edges, bad


def mermaid() -> str:
    """The component graph as a Mermaid flowchart (an arrow: "imports"), top layer first."""
    edges, _ = component_edges()
    names = sorted({n for e in edges for n in e}, key=lambda n: (-LEVELS[n], n))
    lines = ["flowchart TD"]
    lines += [f'    {_id(n)}["{n}"]' for n in names]
    for src, dst in sorted(edges, key=lambda e: (-LEVELS[e[0]], e[0], -LEVELS[e[1]], e[1])):
        lines.append(f"    {_id(src)} --> {_id(dst)}")
    return "\n".join(lines)


def _id(name: str) -> str:
    return name.replace(".", "_")


if __name__ == "__main__":
    print(mermaid())
