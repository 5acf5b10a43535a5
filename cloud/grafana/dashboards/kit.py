"""Small helpers over grafana-foundation-sdk shared by the dashboards.

The SDK has no InfluxDB or PostgreSQL query types, so panel queries are ``Target``s: raw
InfluxQL (``rawQuery``), raw SQL (``rawSql``, code mode) and server-side math expressions,
in the JSON shape Grafana's datasources read. Each panel's targets get refIds A, B, C… in
the order given, which is what math expressions (``$A - $B``) refer to.

Conventions every dashboard follows (the query test relies on them):
- InfluxQL filters multi-value variables as ``"tag" =~ /^$var$/`` and single-value ones as
  ``"tag" = '$var'``; every query has ``$timeFilter``, except "gateways online now", which
  looks at the last 3 minutes of real time.
- SQL uses ``IN ($var)`` for multi-value variables (Grafana quotes each value) and
  ``'$var'`` for single-value ones; time ranges use ``$__timeFilter(col)`` or
  ``$__timeFrom()`` / ``$__timeTo()``.
- Days are local days: ``tz('Asia/Shanghai')`` in InfluxQL, ``AT TIME ZONE`` in SQL.
"""

from __future__ import annotations

import string
from typing import Any, Literal, Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dm

from fuelwatch.cloud.grafana.folders import DATASOURCES

__all__ = [
    "EXPR",
    "INFLUX",
    "REGISTRY",
    "TZ",
    "PanelBuilder",
    "Target",
    "dashboard",
    "district_variable",
    "influx",
    "math",
    "panel",
    "period_variable",
    "product_variable",
    "sql",
    "station_variable",
    "steps",
]

TZ = "Asia/Shanghai"
INFLUX = dm.DataSourceRef(type_val=DATASOURCES["influxdb"].type, uid=DATASOURCES["influxdb"].uid)
REGISTRY = dm.DataSourceRef(type_val=DATASOURCES["registry"].type, uid=DATASOURCES["registry"].uid)
EXPR = dm.DataSourceRef(type_val="__expr__", uid="__expr__")


class RawTarget(cogvariants.Dataquery):
    """A panel query as the datasource's JSON (the SDK models none of ours)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def to_json(self) -> dict[str, object]:
        return dict(self.fields)


class Target(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def ref(self, ref_id: str) -> Target:
        return Target(refId=ref_id, **self._fields)

    def hidden(self) -> Target:
        """Not drawn; an input of the panel's math expressions."""
        return Target(**self._fields, hide=True)

    def build(self) -> RawTarget:
        return RawTarget(self._fields)


def _clean(text: str) -> str:
    """One query per line block, without the indentation of the Python source."""
    return "\n".join(line.strip() for line in text.strip().splitlines())


def influx(
    query: str, *, fmt: Literal["time_series", "table"] = "time_series", alias: str | None = None
) -> Target:
    fields: dict[str, Any] = {
        "datasource": INFLUX.to_json(),
        "rawQuery": True,
        "query": _clean(query),
        "resultFormat": fmt,
    }
    if alias is not None:
        fields["alias"] = alias
    return Target(**fields)


def sql(query: str, *, fmt: Literal["time_series", "table"] = "table") -> Target:
    return Target(
        datasource=REGISTRY.to_json(),
        rawQuery=True,
        editorMode="code",
        format=fmt,
        rawSql=_clean(query),
    )


def math(expression: str) -> Target:
    """A server-side expression over the panel's other queries (refIds)."""
    return Target(datasource=EXPR.to_json(), type="math", expression=expression)


class PanelBuilder(Protocol):
    def with_target(self, target: cogbuilder.Builder[cogvariants.Dataquery]) -> Self: ...
    def build(self) -> dm.Panel: ...


P = TypeVar("P", bound=PanelBuilder)


def panel(builder: P, *targets: Target) -> P:
    """Attach ``targets`` as A, B, C…"""
    for ref_id, target in zip(string.ascii_uppercase, targets, strict=False):
        builder.with_target(target.ref(ref_id))
    return builder


def steps(*pairs: tuple[float | None, str]) -> db.ThresholdsConfig:
    """Absolute thresholds; the first pair's value is None (from -infinity)."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in pairs])
    )


# -- variables -------------------------------------------------------------------------------


def district_variable() -> db.QueryVariable:
    return (
        db.QueryVariable("district")
        .label("区 District")
        .description("Districts from the registry; several may be chosen.")
        .datasource(REGISTRY)
        .query(
            "SELECT id AS __value, CASE WHEN name <> '' THEN name ELSE id END AS __text "
            "FROM districts ORDER BY id"
        )
        .multi(True)
        .include_all(True)
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
    )


def station_variable() -> db.QueryVariable:
    return (
        db.QueryVariable("station")
        .label("加油站 Station")
        .description("One station of the chosen districts.")
        .datasource(REGISTRY)
        .query(
            "SELECT id AS __value, id || ' ' || name AS __text FROM stations "
            "WHERE district_id IN ($district) ORDER BY id"
        )
        .multi(False)
        .include_all(False)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
    )


def product_variable() -> db.QueryVariable:
    return (
        db.QueryVariable("product")
        .label("油品 Product")
        .description("Products seen in dispenser transactions.")
        .datasource(INFLUX)
        .query('SHOW TAG VALUES FROM "dispenser_transaction" WITH KEY = "product"')
        .multi(True)
        .include_all(True)
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
    )


def period_variable() -> db.IntervalVariable:
    return (
        db.IntervalVariable("period")
        .label("周期 Period")
        .description("Bucket of the sales series: local day, week or 30 days.")
        .values("1d,7d,30d")
        .current(dm.VariableOption(selected=True, text="1d", value="1d"))
    )


def dashboard(uid: str, title: str, description: str, *, tags: list[str]) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["fuelwatch", *tags])
        .timezone(TZ)
        .time("now-7d", "now")
        .refresh("5m")
        .readonly()  # provisioned from code: changes go through review, not the UI
    )
