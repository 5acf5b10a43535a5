"""The running state seen as the query results the counting rules were written for.

The business, cloud-data and declaration detectors count records in a window (orders on both
sides, hang events, daily sums, clock offsets). Most read ``ctx.rows(name)``; for a rule on the
incremental engine, those rows come from the station states' recent records instead of a fresh
InfluxDB query — the same columns and tags the rule's InfluxQL would return, so the detector
and its evidence do not change, and the query in the evidence still re-reads the raw points.
The order and revenue detectors, which run every 15 minutes or hourly over a day, read the
records themselves (``in_window``; ``Detector.views`` is False): building a day of rows at
every evaluation cost more than their judgement.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fuelwatch.cloud.rules.state.station import LOCAL, StationState
from fuelwatch.cloud.store.influx import Series

__all__ = ["POS_AFTER_MS", "VIEWS", "in_window", "state_results"]

POS_AFTER_MS = 5 * 60_000  # POS rows follow the sale: the POS queries reach past the window

View = Callable[[list[StationState], int, int], list[Series]]


def in_window(records: Any, start: int, end: int) -> list[Any]:
    """The records in ``(start, end]`` of a deque kept in time order, scanned from its
    newest end (the windows are the recent part of what is kept)."""
    out = []
    for r in reversed(records):
        if r.t <= start:
            break
        if r.t <= end:
            out.append(r)
    out.reverse()
    return out


def _series(
    name: str, rows: dict[tuple[tuple[str, str], ...], list[list[Any]]], cols: list[str]
) -> list[Series]:
    return [Series(name, dict(tags), cols, values) for tags, values in rows.items()]


def transactions(states: list[StationState], start: int, end: int) -> list[Series]:
    cols = ["time", "order_id", "volume", "amount", "unit_price", "start", "end", "rid", "nozzle"]
    rows: dict[tuple[tuple[str, str], ...], list[list[Any]]] = defaultdict(list)
    for st in states:
        for s in in_window(st.sales, start, end):
            key = (("station", st.station), ("nozzle", str(s.nozzle)), ("product", s.product))
            rows[key].append(
                [s.t, s.order_id, s.volume, s.amount, s.unit_price, s.start, s.end, s.rid, s.nozzle]
            )
    return _series("dispenser_transaction", rows, cols)


def pos_sales(states: list[StationState], start: int, end: int) -> list[Series]:
    cols = ["time", "order_id", "volume", "amount", "rid"]
    rows: dict[tuple[tuple[str, str], ...], list[list[Any]]] = defaultdict(list)
    for st in states:
        for p in in_window(st.pos_sales, start, end + POS_AFTER_MS):
            nozzle = "" if p.nozzle is None else str(p.nozzle)
            key = (("station", st.station), ("nozzle", nozzle), ("product", p.product))
            rows[key].append([p.t, p.order_id, p.volume, p.amount, p.rid])
    return _series("pos_sale", rows, cols)


def events(states: list[StationState], start: int, end: int) -> list[Series]:
    cols = ["time", "event", "volume", "rid"]
    rows: dict[tuple[tuple[str, str], ...], list[list[Any]]] = defaultdict(list)
    for st in states:
        for h in in_window(st.hangs, start, end):
            rows[(("station", st.station), ("nozzle", str(h.nozzle)))].append(
                [h.t, h.event, h.volume, h.rid]
            )
    return _series("nozzle_event", rows, cols)


def _day(ms: int) -> str:
    return (datetime.fromtimestamp(ms / 1000, UTC) + LOCAL).date().isoformat()


def reference(states: list[StationState], start: int, end: int) -> list[Series]:
    """Median unit price per product over the 7 local days before the window."""
    del end
    first, last = _day(start - 7 * 86_400_000), _day(start)
    out = []
    for st in states:
        prices: dict[str, list[float]] = defaultdict(list)
        for key, counts in st.prices.items():
            day, product = key.split("|", 1)
            if first <= day < last:
                for price, n in counts.items():
                    prices[product] += [price] * n
        for product, values in prices.items():
            out.append(
                Series(
                    "dispenser_transaction",
                    {"station": st.station, "product": product},
                    ["time", "median"],
                    [[start, statistics.median(values)]],
                )
            )
    return out


def daily_sales(states: list[StationState], start: int, end: int) -> list[Series]:
    """Sales per local day and product (GROUP BY time(1d) tz('Asia/Shanghai'))."""
    out = []
    for st in states:
        rows: dict[str, list[list[Any]]] = defaultdict(list)
        for key, (volume, amount) in sorted(st.daily.items()):
            day, product = key.split("|", 1)
            midnight = datetime.fromisoformat(day).replace(tzinfo=UTC) - LOCAL
            ms = int(midnight.timestamp() * 1000)
            if start - 86_400_000 < ms <= end:
                rows[product].append([ms, volume, amount])
        out += [
            Series(
                "dispenser_transaction",
                {"station": st.station, "product": p},
                ["time", "volume", "amount"],
                v,
            )
            for p, v in rows.items()
        ]
    return out


def counts(states: list[StationState], start: int, end: int) -> list[Series]:
    """Gauge readings per 5 minutes (minutes with a reading, enough to see a gap)."""
    step = 300_000
    out = []
    for st in states:
        if not st.reading_minutes:
            continue
        buckets: dict[int, int] = defaultdict(int)
        for minute in st.reading_minutes:
            t = minute * 60_000
            if start < t <= end:
                buckets[t - t % step] += 1
        first = start - start % step + step
        values = [[t, buckets.get(t, 0)] for t in range(first, end - step + 1, step)]
        out.append(Series("tank_inventory", {"station": st.station}, ["time", "count"], values))
    return out


def stamps(states: list[StationState], start: int, end: int) -> list[Series]:
    out = []
    for st in states:
        for device, offsets in st.offsets.items():
            values = [[t, t - int(o * 1000)] for t, o in offsets if start < t <= end]
            if values:
                out.append(
                    Series(
                        "tank_inventory",
                        {"station": st.station, "device": device},
                        ["time", "gts"],
                        values,
                    )
                )
    return out


VIEWS: dict[str, View] = {
    "transactions": transactions,
    "pos_sales": pos_sales,
    "events": events,
    "reference": reference,
    "daily_sales": daily_sales,
    "counts": counts,
    "stamps": stamps,
}


def state_results(
    states: list[StationState],
    names: list[str],
    start: int,
    end: int,
    cache: dict[tuple[Any, ...], Any] | None = None,
) -> dict[str, list[Series]]:
    """The views a detector names; ``cache`` shares them between rules of one run."""
    out = {}
    for name in names:
        if name not in VIEWS:
            continue
        key = ("view", name, start, end, len(states))
        if cache is not None and key in cache:
            out[name] = cache[key]
            continue
        out[name] = VIEWS[name](states, start, end)
        if cache is not None:
            cache[key] = out[name]
    return out
