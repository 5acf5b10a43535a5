"""What one station's page reads from InfluxDB: tank levels, raw transactions, deliveries.

Sales come from the API's supervision queries and the reconciliation from the rule's own
detector (``reconcile.py``); what is here is only reading stored points for display. Every
query names the station as a bound parameter and its window as integer nanoseconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError, Series

__all__ = [
    "Window",
    "influx_for",
    "query_rows",
    "tank_levels",
    "transactions",
]

MAX_POINTS = 160  # per tank line: enough for a 760-px chart


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    @property
    def start_ns(self) -> int:
        return int(self.start.timestamp() * 1_000_000_000)

    @property
    def end_ns(self) -> int:
        return int(self.end.timestamp() * 1_000_000_000)

    def bucket(self, points: int = MAX_POINTS) -> str:
        seconds = max(60, int((self.end - self.start) / timedelta(seconds=1) / points))
        return f"{seconds}s"


@asynccontextmanager
async def influx_for(settings: CloudSettings) -> AsyncIterator[InfluxClient]:
    async with InfluxClient(
        settings.influx_url,
        settings.influx_db,
        username=settings.influx_username,
        password=settings.influx_password,
        timeout=10.0,
    ) as influx:
        yield influx


def _where(w: Window) -> str:
    return f'"station" = $station AND time >= {w.start_ns} AND time < {w.end_ns}'


async def _query(influx: InfluxClient, q: str, station: str) -> list[Series]:
    try:
        return await influx.query(q, epoch="ms", params={"station": station})
    except InfluxError as exc:
        if "database not found" in str(exc):
            return []  # nothing was ever written: an empty page, not an error
        raise


async def query_rows(influx: InfluxClient, q: str, station: str) -> list[dict[str, Any]]:
    return [dict(s.tags) | row for s in await _query(influx, q, station) for row in s.rows()]


async def tank_levels(
    influx: InfluxClient, station: str, w: Window
) -> dict[int, list[tuple[float, float]]]:
    """Per tank: mean volume (L) per bucket, at most ``MAX_POINTS`` points."""
    q = (
        'SELECT mean("volume") AS "volume" FROM "tank_inventory" '
        f'WHERE {_where(w)} GROUP BY time({w.bucket()}), "tank" fill(none)'
    )
    out: dict[int, list[tuple[float, float]]] = {}
    for s in await _query(influx, q, station):
        tank = int(s.tags.get("tank") or 0)
        out[tank] = [
            (float(r["time"]), float(r["volume"])) for r in s.rows() if r.get("volume") is not None
        ]
    return dict(sorted(out.items()))


async def latest_tanks(influx: InfluxClient, station: str, w: Window) -> dict[int, dict[str, Any]]:
    q = (
        'SELECT last("volume") AS "volume", last("tc_volume") AS "tc_volume", '
        'last("temperature") AS "temperature", last("water") AS "water" FROM "tank_inventory" '
        f'WHERE {_where(w)} GROUP BY "tank", "product"'
    )
    return {int(r.get("tank") or 0): r for r in await query_rows(influx, q, station)}


async def transactions(
    influx: InfluxClient, station: str, w: Window, *, limit: int
) -> list[dict[str, Any]]:
    """Dispenser transactions with their totalizers, oldest first, at most ``limit``."""
    q = (
        'SELECT "order_id", "unit_price", "volume", "amount", "totalizer_before", '
        f'"totalizer_after" FROM "dispenser_transaction" WHERE {_where(w)} '
        f'GROUP BY "nozzle", "product" ORDER BY time ASC LIMIT {int(limit)}'
    )
    rows = await query_rows(influx, q, station)
    rows.sort(key=lambda r: (r["time"], str(r.get("nozzle"))))
    return rows[:limit]


async def gauge_deliveries(influx: InfluxClient, station: str, w: Window) -> list[dict[str, Any]]:
    """Deliveries the tank gauge reported, with the rise it measured."""
    q = f'SELECT * FROM "tank_delivery" WHERE {_where(w)} ORDER BY time ASC LIMIT 500'
    rows = await query_rows(influx, q, station)
    for r in rows:
        start, end = r.get("start_tc_volume"), r.get("end_tc_volume")
        if start is None or end is None:
            start, end = r.get("start_volume"), r.get("end_volume")
        r["rise"] = float(end) - float(start) if start is not None and end is not None else None
    return rows


async def pos_deliveries(influx: InfluxClient, station: str, w: Window) -> list[dict[str, Any]]:
    """Deliveries the station's POS declared, with their waybill numbers."""
    q = f'SELECT * FROM "pos_delivery" WHERE {_where(w)} ORDER BY time ASC LIMIT 500'
    return await query_rows(influx, q, station)
