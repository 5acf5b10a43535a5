"""Industry supervision views over InfluxDB: sales, prices, collection health.

Queries are InfluxQL built from validated identifiers only; every value a caller gives (a
station, a district, a product) is a bound parameter, and times are integer nanoseconds we
compute. Scope is part of every query: a principal limited to some districts or to one
station gets a WHERE clause that keeps only those series.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fuelwatch.cloud.store.influx import InfluxClient, Series

__all__ = ["Scope", "SeriesFilter", "collection_health", "price_stats", "sales"]

GroupTag = Literal["district", "station", "product"]
Interval = Literal["1h", "1d", "7d"]
SOURCES = {"dispenser": "dispenser_transaction", "pos": "pos_sale"}


@dataclass(frozen=True, slots=True)
class Scope:
    districts: frozenset[str] | None  # None = all
    station: str | None

    @property
    def empty(self) -> bool:
        return self.station is None and self.districts is not None and not self.districts


@dataclass(frozen=True, slots=True)
class SeriesFilter:
    start: datetime
    end: datetime
    district: str | None = None
    station: str | None = None
    product: str | None = None


def _ns(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000_000)


def _where(scope: Scope, f: SeriesFilter, params: dict[str, Any]) -> str:
    clauses = [f"time >= {_ns(f.start)}", f"time < {_ns(f.end)}"]
    if scope.station is not None:
        params["scope_station"] = scope.station
        clauses.append('"station" = $scope_station')
    elif scope.districts is not None:
        names = []
        for i, district in enumerate(sorted(scope.districts)):
            params[f"scope_d{i}"] = district
            names.append(f'"district" = $scope_d{i}')
        clauses.append("(" + " OR ".join(names) + ")")
    for tag in ("district", "station", "product"):
        value = getattr(f, tag)
        if value is not None:
            params[f"f_{tag}"] = value
            clauses.append(f'"{tag}" = $f_{tag}')
    return " AND ".join(clauses)


def _rows(series: list[Series]) -> list[dict[str, Any]]:
    return [dict(s.tags) | row for s in series for row in s.rows()]


async def sales(
    influx: InfluxClient,
    scope: Scope,
    f: SeriesFilter,
    *,
    group_by: list[GroupTag],
    interval: Interval | None = None,
    source: Literal["dispenser", "pos"] = "dispenser",
    utc_offset_hours: int = 0,
) -> list[dict[str, Any]]:
    """Sold volume (L), revenue (CNY) and transactions per group (and period).

    ``utc_offset_hours``: periods of a day or a week start at local midnight of that zone
    (8 for Beijing time: ``time(1d, 16h)``) instead of at midnight UTC.
    """
    if scope.empty:
        return []
    params: dict[str, Any] = {}
    groups = [f'"{g}"' for g in dict.fromkeys(group_by)]
    if interval is not None:
        shift = -int(utc_offset_hours) % 24
        groups.append(
            f"time({interval}, {shift}h)" if shift and interval != "1h" else f"time({interval})"
        )
    q = (
        'SELECT sum("volume") AS "volume_l", sum("amount") AS "revenue", '
        f'count("volume") AS "transactions" FROM "{SOURCES[source]}" '
        f"WHERE {_where(scope, f, params)}"
        + (f" GROUP BY {', '.join(groups)}" if groups else "")
        + (" fill(none)" if interval else "")
    )
    rows = _rows(await influx.query(q, epoch="ms", params=params))
    for row in rows:
        if interval is None:
            row.pop("time", None)
    return rows


async def price_stats(
    influx: InfluxClient, scope: Scope, f: SeriesFilter, *, group_by: list[GroupTag]
) -> list[dict[str, Any]]:
    """Unit price (CNY/L) statistics per product (and district or station)."""
    if scope.empty:
        return []
    params: dict[str, Any] = {}
    groups = ", ".join(f'"{g}"' for g in dict.fromkeys(["product", *group_by]))
    q = (
        'SELECT min("unit_price") AS "min", max("unit_price") AS "max", '
        'mean("unit_price") AS "mean", last("unit_price") AS "last", '
        'count("unit_price") AS "transactions" FROM "dispenser_transaction" '
        f"WHERE {_where(scope, f, params)} GROUP BY {groups}"
    )
    rows = _rows(await influx.query(q, epoch="ms", params=params))
    for row in rows:
        row.pop("time", None)
    return rows


async def collection_health(
    influx: InfluxClient, scope: Scope, f: SeriesFilter, *, bucket_minutes: int
) -> dict[str, dict[str, Any]]:
    """Per station: its gateways' last status, gap buckets and rejected messages in the window.

    A gap is a ``bucket_minutes`` bucket of the window in which no gateway status arrived
    (gateways report at least every status interval, 60 s by default).
    """
    out: dict[str, dict[str, Any]] = {}
    if scope.empty:
        return out
    params: dict[str, Any] = {}
    where = _where(scope, f, params)
    last_q = (
        f'SELECT * FROM "gateway_status" WHERE {where} '
        'GROUP BY "station", "device" ORDER BY time DESC LIMIT 1'
    )
    gaps_q = (
        f'SELECT count("boot") AS "n" FROM "gateway_status" WHERE {where} '
        f'GROUP BY time({bucket_minutes}m), "station" fill(0)'
    )
    rejected_q = (
        f'SELECT count("size") AS "n" FROM "rejected" WHERE {where} GROUP BY "station", "reason"'
    )
    # One statement per request: with several, InfluxDB 1.x reports a missing database
    # only as "not executed".
    last, gaps, rejected = await asyncio.gather(
        *(influx.query(q, epoch="ms", params=params) for q in (last_q, gaps_q, rejected_q))
    )
    for s in last:
        station = s.tags.get("station", "")
        entry = out.setdefault(station, {"gateways": [], "gap_buckets": 0, "rejected": {}})
        for row in s.rows():
            entry["gateways"].append(
                {
                    "gateway": s.tags.get("device", ""),
                    "last_seen": row.get("time"),
                    "state": row.get("state"),
                    "spool_backlog": row.get("spool_backlog"),
                    "spool_oldest": row.get("spool_oldest"),
                    "spool_dropped": row.get("spool_dropped"),
                    "publish_errors": row.get("publish_errors"),
                    "devices": row.get("devices"),
                    "version": row.get("version"),
                }
            )
    for s in gaps:
        station = s.tags.get("station", "")
        entry = out.setdefault(station, {"gateways": [], "gap_buckets": 0, "rejected": {}})
        entry["gap_buckets"] = sum(1 for row in s.values if not row[1])
    for s in rejected:
        station = s.tags.get("station", "")
        entry = out.setdefault(station, {"gateways": [], "gap_buckets": 0, "rejected": {}})
        for row in s.rows():
            entry["rejected"][s.tags.get("reason", "")] = row.get("n", 0)
    return out
