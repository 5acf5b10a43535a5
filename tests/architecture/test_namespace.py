"""The test session imports the sides only as ``fuelwatch.*`` (tests/support/namespace.py)."""

from __future__ import annotations

import importlib
import re
import sys

import pytest

from tests.support import namespace


@pytest.mark.parametrize("side", namespace.SIDES)
def test_a_top_level_import_of_a_side_fails_with_the_fix(side: str) -> None:
    assert namespace.ROOT.joinpath(side, "__init__.py").exists()  # it would be importable
    with pytest.raises(namespace.TopLevelCopyError, match=f"import fuelwatch.{side}$"):
        importlib.import_module(side)
    with pytest.raises(ImportError):  # and so would a submodule
        importlib.import_module(f"{side}.cli")
    assert side not in sys.modules
    assert importlib.import_module(f"fuelwatch.{side}").__name__ == f"fuelwatch.{side}"


def test_no_top_level_copy_is_loaded() -> None:
    assert str(namespace.ROOT) in sys.path  # pytest put it there: the guard has work to do
    assert namespace.top_level_copies() == []


def test_a_copy_that_got_in_another_way_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = type(sys)("gateway.spool")
    fake.__file__ = str(namespace.ROOT / "gateway" / "spool.py")
    monkeypatch.setitem(sys.modules, "gateway.spool", fake)
    assert namespace.top_level_copies() == ["gateway.spool"]


IMPORTS = re.compile(r"(?:^|[\s;'\"(])import\s+([\w\s.,]+)|\bfrom\s+([\w.]+)\s+import\b")
RUN_MODULE = re.compile(r"\s-m\s+([\w.]+)")


def top_level_uses(line: str) -> list[str]:
    """The sides a line of script imports or runs under their top-level names."""
    names = [n for m in RUN_MODULE.finditer(line) for n in [m.group(1)]]
    for m in IMPORTS.finditer(line):
        names += [n.split()[0] for n in (m.group(1) or m.group(2)).split(",") if n.split()]
    return [n for n in names if n.split(".")[0] in namespace.SIDES]


def test_scripts_name_the_sides_as_fuelwatch() -> None:
    """``fw`` checked its install with ``import fuelwatch, gateway, cloud``, which only worked
    because it runs in the repository root (a second copy; nothing of it is installed)."""
    root = namespace.ROOT
    files = [root / "fw", root / ".ci" / "run", root / "Dockerfile", root / "docker-compose.yml"]
    files += sorted((root / "bench").glob("*.py"))
    found = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if top_level_uses(line)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("line", "uses"),
    [
        (".venv/bin/python -c 'import fuelwatch, gateway, cloud'", ["gateway", "cloud"]),
        (".venv/bin/python -c 'import fuelwatch.cli, fuelwatch.gateway'", []),
        ("from cloud.rules import engine", ["cloud.rules"]),
        ("from fuelwatch.sim import cli", []),
        ("python -m sim run x.yaml", ["sim"]),
        ("python -m fuelwatch.cli gateway run", []),
        ("import core.records as r", ["core.records"]),
    ],
)
def test_the_script_check_reads_imports(line: str, uses: list[str]) -> None:
    assert top_level_uses(line) == uses
