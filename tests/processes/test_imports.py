"""Any one module, imported alone in a fresh process, can use the whole schema.

On the old layout a fresh ``fuelwatch cloud rules`` crashed on its first warning
(``NoReferencedTableError: Foreign key 'warnings.assignee_id' could not find table 'users'``)
while the tests passed, because the test process had imported the accounts models elsewhere.
Here every module of the package is imported on its own (``fresh_import.py``), then
``configure_mappers()`` runs and every foreign key of the metadata is resolved.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fuelwatch.cloud.store.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("fresh_import.py")
SIDES = ("core", "gateway", "cloud", "sim")  # linked into fuelwatch/ as fuelwatch.<side>
#: Modules that are not meant to be imported, and what runs them instead.
NOT_IMPORTED = {
    "fuelwatch.cli.__main__": "runs the CLI when imported; it is `python -m fuelwatch.cli`, "
    "which every test in this folder starts",
    "fuelwatch.cloud.store.migrations.env": "Alembic's environment script, run only inside "
    "a migration (every registry upgrade runs it)",
}


def _dotted(prefix: str, relative: Path) -> str:
    parts = [prefix, *relative.with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> list[str]:
    """Every module of the package: the four sides and the composition root's own files."""
    found = [
        _dotted(f"fuelwatch.{side}", path.relative_to(ROOT / side))
        for side in SIDES
        for path in (ROOT / side).rglob("*.py")
    ]
    top = ROOT / "fuelwatch"
    for folder, dirs, files in os.walk(top):  # the links to the sides are not followed
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found += [
            _dotted("fuelwatch", (Path(folder) / file).relative_to(top))
            for file in files
            if file.endswith(".py")
        ]
    return sorted(m for m in found if m not in NOT_IMPORTED)


def optional_imports() -> set[str]:
    """Import names of the extras' distributions (``grafana-client`` -> ``grafana_client``):
    a module may need one that is not installed here (the station install has no [cloud])."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras: dict[str, list[str]] = pyproject["project"]["optional-dependencies"]
    names = {
        re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0].replace("-", "_").lower()
        for reqs in extras.values()
        for req in reqs
    }
    return names - {"fuelwatch"}  # `dev` names the other extras


def run_fresh(
    modules: list[str], cwd: Path, env: dict[str, str], *extra_path: Path
) -> dict[str, dict[str, Any]]:
    argv = [sys.executable, "-I", str(SERVER), *(str(p) for p in extra_path)]
    proc = subprocess.run(
        argv,
        input="\n".join(modules),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    by_module = {r["module"]: r for r in results}
    assert sorted(by_module) == sorted(modules), "one answer per module"
    return by_module


@pytest.fixture
def service_env(tmp_path: Path) -> dict[str, str]:
    """What a service finds at start: a migrated registry (``cloud.console.serve`` builds its app,
    and checks the schema, when uvicorn imports it)."""
    url = f"sqlite:///{tmp_path}/registry.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FUELWATCH_", "PYTHON"))}
    return env | {"FUELWATCH_ENVIRONMENT": "test", "FUELWATCH_REGISTRY_URL": url}


def test_every_module_alone_resolves_the_whole_schema(
    tmp_path: Path, service_env: dict[str, str]
) -> None:
    modules = package_modules()
    assert len(modules) > 150  # the walk found the package (it is about 200 modules)
    results = run_fresh(modules, tmp_path, service_env)
    optional = optional_imports()
    skipped = {
        m: r["missing"]
        for m, r in results.items()
        if r.get("missing") in optional and importlib.util.find_spec(r["missing"]) is None
    }
    failed = {m: r["error"] for m, r in results.items() if not r.get("ok") and m not in skipped}
    assert not failed, "\n\n".join(f"{m}:\n{e}" for m, e in failed.items())
    with_orm = [r for r in results.values() if r.get("ok") and r["bases"]]
    # one declarative base, and a module that loads it loads every table
    assert {b for r in with_orm for b in r["bases"]} == {"fuelwatch.cloud.store.models.base.Base"}
    assert len({r["tables"] for r in with_orm}) == 1
    assert "fuelwatch.cloud.rules.cli" in {r["module"] for r in with_orm}
    print(f"\n{len(results)} modules, {len(with_orm)} load the schema, skipped {skipped or 'none'}")


BROKEN = """
from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Warning_(Base):
    __tablename__ = "warnings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
"""


def test_the_check_finds_a_table_that_is_not_loaded(
    tmp_path: Path, service_env: dict[str, str]
) -> None:
    """The old defect, in miniature: a foreign key to a table declared in a module that the
    importing process never loaded; and a relationship to a class nobody imported."""
    (tmp_path / "broken_fk.py").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "broken_rel.py").write_text(
        BROKEN.replace(
            'mapped_column(ForeignKey("users.id"))',
            'mapped_column(Integer)\n    assignee = relationship("User")',
        ),
        encoding="utf-8",
    )
    (tmp_path / "exits.py").write_text("raise SystemExit(3)\n", encoding="utf-8")
    results = run_fresh(
        ["broken_fk", "broken_rel", "exits", "fuelwatch.core.records"],
        tmp_path,
        service_env,
        tmp_path,
    )
    assert "NoReferencedTableError" in results["broken_fk"]["error"]
    assert "'users'" in results["broken_fk"]["error"]
    assert "InvalidRequestError" in results["broken_rel"]["error"]
    assert "SystemExit: 3" in results["exits"]["error"]
    assert results["fuelwatch.core.records"]["ok"]
