"""Dashboard folders, the departments that see them, and the provisioned datasources.

One table for the dashboard files (``grafana/dashboards/<dir>/``), the provisioning providers
(``grafana/provisioning/dashboards/fuelwatch.yaml``, one per folder with its ``folderUid``)
and the sync, which gives each department's team access to its folders.
"""

from __future__ import annotations

from dataclasses import dataclass

from fuelwatch.cloud.accounts.roles import Department

__all__ = ["DATASOURCES", "FOLDERS", "Datasource", "Folder", "folder"]


@dataclass(frozen=True, slots=True)
class Folder:
    uid: str
    title: str  # Chinese, as department users read it
    directory: str  # under grafana/dashboards/
    viewers: frozenset[Department]  # teams with View permission (platform_admin: Admin)


_GOVERNMENT = frozenset(Department) - {Department.STATION, Department.PLATFORM_ADMIN}

FOLDERS: tuple[Folder, ...] = (
    Folder("fw-overview", "总览", "overview", _GOVERNMENT),
    Folder("fw-commerce", "商务", "commerce", frozenset({Department.COMMERCE})),
    Folder(
        "fw-market-regulation",
        "市场监管",
        "market_regulation",
        frozenset({Department.MARKET_REGULATION}),
    ),
    Folder("fw-tax", "税务", "tax", frozenset({Department.TAX})),
)


def folder(uid: str) -> Folder:
    for f in FOLDERS:
        if f.uid == uid:
            return f
    raise KeyError(uid)


@dataclass(frozen=True, slots=True)
class Datasource:
    uid: str
    type: str


DATASOURCES = {
    "influxdb": Datasource("fw-influxdb", "influxdb"),  # InfluxQL, v1 API
    "registry": Datasource("fw-registry", "grafana-postgresql-datasource"),
}
