"""The dashboards, one module each, registered in ``DASHBOARDS`` (folder, file, builder).

``render()`` turns them into the JSON files Grafana provisions; ``fuelwatch grafana build``
writes them to ``grafana/dashboards/<folder>/<name>.json`` and a test checks the committed
files are exactly what the code makes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from fuelwatch.cloud.grafana.dashboards import commerce, market, overview, station, tax
from fuelwatch.cloud.grafana.folders import Folder, folder

__all__ = ["DASHBOARDS", "DashboardSpec", "differences", "render", "write"]


@dataclass(frozen=True, slots=True)
class DashboardSpec:
    name: str
    folder: Folder
    build: Callable[[], db.Dashboard]

    @property
    def path(self) -> Path:
        return Path(self.folder.directory) / f"{self.name}.json"


DASHBOARDS: tuple[DashboardSpec, ...] = (
    DashboardSpec("overview", folder("fw-overview"), overview.build),
    DashboardSpec("station", folder("fw-overview"), station.build),
    DashboardSpec("commerce", folder("fw-commerce"), commerce.build),
    DashboardSpec("market_regulation", folder("fw-market-regulation"), market.build),
    DashboardSpec("tax", folder("fw-tax"), tax.build),
)


def to_json(spec: DashboardSpec) -> dict[str, Any]:
    text = json.dumps(spec.build().build(), cls=JSONEncoder)
    data: dict[str, Any] = json.loads(text)
    return data


def render() -> dict[Path, str]:
    """Relative path under grafana/dashboards -> file content."""
    return {
        spec.path: json.dumps(to_json(spec), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for spec in DASHBOARDS
    }


def differences(out: Path) -> list[Path]:
    """Files under ``out`` that are not what the code makes: changed, missing or extra."""
    wanted = render()
    found = {p.relative_to(out) for p in out.rglob("*.json")} if out.is_dir() else set()
    changed = [
        rel
        for rel, text in wanted.items()
        if not (out / rel).is_file() or (out / rel).read_text(encoding="utf-8") != text
    ]
    return sorted(changed + [rel for rel in found if rel not in wanted])


def write(out: Path) -> list[Path]:
    """Write every dashboard under ``out``, remove JSON files no dashboard makes any more."""
    wanted = render()
    for rel in differences(out):
        target = out / rel
        if rel in wanted:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(wanted[rel], encoding="utf-8")
        else:
            target.unlink()
    return sorted(wanted)
