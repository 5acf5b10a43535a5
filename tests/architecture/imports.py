"""The import graph of our own code, read from the source (no module is imported).

Modules are named as they are imported (``fuelwatch.cloud.store.db``) although their files sit
in the top-level folders that ``fuelwatch/`` links in (``cloud/store/db.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: folder at the top of the tree -> the package it is imported as
FOLDERS = {
    "core": "fuelwatch.core",
    "gateway": "fuelwatch.gateway",
    "cloud": "fuelwatch.cloud",
    "sim": "fuelwatch.sim",
    "fuelwatch": "fuelwatch",
}


@dataclass(frozen=True, slots=True)
class Import:
    source: str  # importing module
    target: str  # imported module (or module.attribute: `from a import b`)
    path: Path
    line: int
    type_checking: bool  # under `if TYPE_CHECKING:`


def module_files() -> Iterator[tuple[str, Path]]:
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder)
            if folder == "fuelwatch" and rel.parts[0] in FOLDERS:
                continue  # the links themselves
            parts = [*package.split("."), *rel.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports() -> Iterator[Import]:
    for module, path in module_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = _type_checking_lines(tree)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                if target == "fuelwatch" or target.startswith("fuelwatch."):
                    yield Import(module, target, path, node.lineno, node.lineno in guarded)


def resolve(target: str, known: set[str]) -> str:
    """The module an import names: ``a.b.c`` is module ``a.b`` when ``c`` is an attribute."""
    while target not in known and "." in target:
        target = target.rpartition(".")[0]
    return target
