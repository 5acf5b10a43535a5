"""Run every query of the provisioned dashboard files the way Grafana would send them.

InfluxQL goes to a real influxd over HTTP GET (Grafana's default for InfluxQL), SQL to a real
PostgreSQL as ``grafana_reader``, the account ``grafana/postgres/grafana-reader.sql`` makes, so
a query that needs a column the account may not read fails here as it would in Grafana.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.grafana.emulation import (
    Frame,
    Series,
    TimeRange,
    Variable,
    evaluate_math,
    interpolate_influx,
    interpolate_sql,
    interval_for,
)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.rglob("*.json"))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in dashboard.get("panels", []):
        if p.get("type") == "row":
            yield from p.get("panels", [])
        else:
            yield p


@dataclass
class Backends:
    influx_url: str
    influx_db: str
    reader_dsn: str

    def influx(self, query: str) -> Frame:
        resp = httpx.get(
            f"{self.influx_url}/query",
            params={"db": self.influx_db, "q": query, "epoch": "ms"},
            timeout=60,
        )
        if resp.status_code == 400:  # a query InfluxDB refused: its message says why
            raise RuntimeError(f"InfluxDB: {resp.json().get('error')}")
        resp.raise_for_status()
        result = resp.json()["results"][0]
        if "error" in result:
            raise RuntimeError(f"InfluxDB: {result['error']}")
        frame = Frame()
        for s in result.get("series", []):
            frame.columns = s["columns"]
            tags = s.get("tags") or {}
            for row in s["values"]:
                frame.rows.append([*row, *tags.values()])
            for i, column in enumerate(s["columns"][1:], start=1):
                labels = dict(tags) if len(s["columns"]) == 2 else {**tags, "field": column}
                frame.series.append(
                    Series(labels, {row[0]: _number(row[i]) for row in s["values"]})
                )
        return frame

    def sql(self, query: str) -> Frame:
        with psycopg.connect(self.reader_dsn, connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute(query.encode())
            columns = [d.name for d in cur.description or []]
            return Frame(columns=columns, rows=[list(r) for r in cur.fetchall()])


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class Outcome:
    dashboard: str
    panel: str
    ref: str
    query: str
    frame: Frame | None = None
    series: list[Series] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        if self.error is not None:
            return False
        if self.frame is not None:
            return self.frame.has_values()
        return any(s.values() for s in self.series)


def resolve_variables(
    dashboard: dict[str, Any], backends: Backends, rng: TimeRange, choose: dict[str, str]
) -> dict[str, Variable]:
    """Every variable as a user would have it: All where allowed, else ``choose[name]``."""
    out: dict[str, Variable] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        name, multi = var["name"], bool(var.get("multi") or var.get("includeAll"))
        if var["type"] == "interval":
            out[name] = Variable(name, (var["current"]["value"],), multi=False)
            continue
        ds = var["datasource"]["type"]
        if ds == "influxdb":
            frame = backends.influx(interpolate_influx(var["query"], out, rng, "1h"))
            values = [str(row[1]) for row in frame.rows]
        else:
            frame = backends.sql(interpolate_sql(var["query"], out, rng))
            values = [str(row[frame.columns.index("__value")]) for row in frame.rows]
        if not values:
            raise AssertionError(f"variable {name} of {dashboard['uid']} has no values")
        if var.get("includeAll"):
            out[name] = Variable(name, tuple(values), multi=True)
        else:
            wanted = choose[name]
            if wanted not in values:
                raise AssertionError(f"{wanted} is not among ${name}'s values {values}")
            out[name] = Variable(name, (wanted,), multi=multi)
    return out


def run_dashboard(
    path: Path, backends: Backends, rng: TimeRange, choose: dict[str, str]
) -> list[Outcome]:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    variables = resolve_variables(dashboard, backends, rng, choose)
    outcomes: list[Outcome] = []
    for panel in panels(dashboard):
        interval = interval_for(rng, panel.get("interval"))
        results: dict[str, list[Series]] = {}
        for target in panel.get("targets", []):
            ds = target["datasource"]["type"]
            outcome = Outcome(dashboard["uid"], panel["title"], target["refId"], "")
            try:
                if ds == "influxdb":
                    outcome.query = interpolate_influx(target["query"], variables, rng, interval)
                    outcome.frame = backends.influx(outcome.query)
                    results[target["refId"]] = outcome.frame.series
                elif ds == "grafana-postgresql-datasource":
                    outcome.query = interpolate_sql(target["rawSql"], variables, rng)
                    outcome.frame = backends.sql(outcome.query)
                    if target["format"] == "time_series" and "time" not in outcome.frame.columns:
                        outcome.error = "time_series format without a time column"
                elif ds == "__expr__":
                    outcome.query = target["expression"]
                    outcome.series = evaluate_math(target["expression"], results)
                else:
                    outcome.error = f"unknown datasource type {ds}"
            except Exception as exc:  # reported per query, all at once
                outcome.error = f"{type(exc).__name__}: {exc}"
            outcomes.append(outcome)
    return outcomes
