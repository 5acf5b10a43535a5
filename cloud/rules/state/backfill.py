"""Seed a new station state's long memory from the downsampled series, not from raw windows.

A station the engine has no saved state for starts reading raw points a day back; the rules
that look further (the declaration check compares whole declaration periods, up to 100 days)
get their daily sales from the ``aggregates.sales_1d`` series (cloud/store/aggregates.py:
local days, per station and product), and only the part of the first day before the raw
read begins from raw. Where the aggregates are missing (no continuous queries on that
database), InfluxDB aggregates the raw points itself (one ``GROUP BY time(1d)`` query).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fuelwatch.cloud.rules.state.station import LOCAL, StationState
from fuelwatch.cloud.store.aggregates import AGGREGATE_RP, LOCAL_DAY_OFFSET
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError, Series

__all__ = ["DAYS", "backfill_daily"]

DAYS = 100
DAY_MS = 86_400_000


def _local_midnight(ms: int) -> int:
    local = datetime.fromtimestamp(ms / 1000, UTC) + LOCAL
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) - LOCAL
    return int(midnight.timestamp() * 1000)


def _apply(states: dict[str, StationState], series: list[Series]) -> int:
    n = 0
    for s in series:
        state = states.get(s.tags.get("station", ""))
        if state is None:
            continue
        for row in s.rows():
            volume = row.get("volume")
            if volume is None:
                continue
            day = (datetime.fromtimestamp(int(row["time"]) / 1000, UTC) + LOCAL).date()
            key = f"{day.isoformat()}|{s.tags.get('product', '')}"
            total = state.daily.setdefault(key, [0.0, 0.0])
            total[0] += float(volume)
            total[1] += float(row.get("amount") or 0.0)
            n += 1
    return n


async def backfill_daily(
    influx: InfluxClient, states: dict[str, StationState], station_filter: str, until_ms: int
) -> int:
    """Add the daily sales before ``until_ms`` (where the raw read starts) to ``states``;
    returns the day rows added."""
    day0 = _local_midnight(until_ms)
    since = day0 - DAYS * DAY_MS
    group = f'GROUP BY time(1d, {LOCAL_DAY_OFFSET}), "station", "product"'
    select = 'SELECT sum("volume") AS "volume", sum("amount") AS "amount"'
    aggregated = (
        f'{select} FROM "{AGGREGATE_RP}"."sales_1d" WHERE {station_filter} '
        f"AND time >= {since}ms AND time < {day0}ms {group}"
    )
    raw_today = (
        f'{select} FROM "dispenser_transaction" WHERE {station_filter} '
        f"AND time >= {day0}ms AND time <= {until_ms}ms {group}"
    )
    raw_all = (
        f'{select} FROM "dispenser_transaction" WHERE {station_filter} '
        f"AND time >= {since}ms AND time <= {until_ms}ms {group}"
    )
    try:
        days, today = await influx.query_many(f"{aggregated};\n{raw_today}")
    except InfluxError:  # no aggregates retention policy on this database
        days = []
    if not days:
        [everything] = await influx.query_many(raw_all)
        return _apply(states, everything)
    return _apply(states, days) + _apply(states, today)
