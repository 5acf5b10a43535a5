"""Read the raw points of a time range from InfluxDB for a batch of stations, once.

One request carries a statement per measurement the rules use (``STATEMENTS``); each point is
turned into its typed tuple (``points.py``). The console's temperature-compensated volume is
converted here to litres at 20 °C when the console compensates to another reference
(``tc_reference`` on the reading, from the device's settings: 15 °C, 60 °F...).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fuelwatch.cloud.rules.state.points import (
    GaugeDelivery,
    NozzleMark,
    PosDelivery,
    PosSale,
    Reading,
    Sale,
    Snapshot,
)
from fuelwatch.cloud.store.influx import InfluxClient, Series
from fuelwatch.core.volume import to_20c

__all__ = ["STATEMENTS", "read_points"]

#: kind -> InfluxQL template ({where}: station filter and the time range)
STATEMENTS: dict[str, str] = {
    "reading": (
        'SELECT "tc_volume", "volume", "temperature", "status", "tc_reference", "gts", "rid" '
        'FROM "tank_inventory" WHERE {where} GROUP BY "station", "tank", "product", "device"'
    ),
    "sale": (
        'SELECT "volume", "amount", "unit_price", "start", "end", "order_id", '
        '"totalizer_before", "totalizer_after", "rid" FROM "dispenser_transaction" '
        'WHERE {where} GROUP BY "station", "nozzle", "product", "device"'
    ),
    "snapshot": (
        'SELECT "volume_total", "gts", "rid" FROM "totalizer" WHERE {where} '
        'GROUP BY "station", "nozzle", "device"'
    ),
    "hang": (
        'SELECT "event", "volume", "rid" FROM "nozzle_event" WHERE {where} '
        'GROUP BY "station", "nozzle", "device"'
    ),
    "delivery": (
        'SELECT "start", "end", "start_tc_volume", "end_tc_volume", "start_volume", '
        '"end_volume", "start_temperature", "end_temperature", "rid" FROM "tank_delivery" '
        'WHERE {where} GROUP BY "station", "tank", "product"'
    ),
    "pos_delivery": (
        'SELECT "volume", "waybill_id", "rid" FROM "pos_delivery" WHERE {where} '
        'GROUP BY "station", "tank", "product"'
    ),
    "pos_sale": (
        'SELECT "order_id", "volume", "amount", "rid" FROM "pos_sale" WHERE {where} '
        'GROUP BY "station", "nozzle", "product"'
    ),
}


def _literal(ms: int) -> str:
    return f"{ms}ms"


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _i(v: Any) -> int | None:
    return None if v is None else int(v)


def _rows(series: list[Series]) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    for s in series:
        for row in s.rows():
            yield s.tags, row


def _reading(tags: dict[str, str], row: dict[str, Any], expansion: float) -> Reading | None:
    tc, volume = _f(row.get("tc_volume")), _f(row.get("volume"))
    if volume is None:
        return None
    temperature = _f(row.get("temperature"))
    reference = _f(row.get("tc_reference"))
    if tc is None:  # a console without compensation: correct the gross volume ourselves
        tc = to_20c(volume, temperature, expansion) if temperature is not None else volume
    elif reference is not None and temperature is not None:
        tc = to_20c(tc, temperature, expansion, reference=reference)
    gts = _i(row.get("gts"))
    return Reading(
        # a polled reading's gateway time: the gauge's own clock may be off (and a TLS-350
        # reports whole minutes); the dispensers' sales are put on the same clock by their
        # offset (station.py)
        t=gts if gts is not None else int(row["time"]),
        tank=int(tags["tank"]),
        tc=tc,
        volume=volume,
        temperature=temperature,
        status=int(row.get("status") or 0),
        gts=gts,
        device=tags.get("device", ""),
        rid=_i(row.get("rid")),
        ts=int(row["time"]),
    )


def _point(
    kind: str, tags: dict[str, str], row: dict[str, Any], expansion: dict[str, float]
) -> Any:
    t = int(row["time"])
    if kind == "reading":
        return _reading(tags, row, expansion.get(tags.get("product", ""), 0.0012))
    if kind == "sale":
        if row.get("volume") is None:
            return None
        return Sale(
            t=t,
            nozzle=int(tags["nozzle"]),
            product=tags.get("product", ""),
            volume=float(row["volume"]),
            amount=float(row.get("amount") or 0.0),
            unit_price=float(row.get("unit_price") or 0.0),
            start=int(row.get("start") or t),
            end=int(row.get("end") or t),
            order_id=str(row.get("order_id") or ""),
            totalizer_before=_f(row.get("totalizer_before")),
            totalizer_after=_f(row.get("totalizer_after")),
            rid=_i(row.get("rid")),
            device=tags.get("device", ""),
        )
    if kind == "snapshot":
        if row.get("volume_total") is None:
            return None
        return Snapshot(
            t, int(tags["nozzle"]), float(row["volume_total"]), _i(row.get("gts")),
            tags.get("device", ""), _i(row.get("rid")),
        )  # fmt: skip
    if kind == "hang":
        if row.get("event") not in ("lift", "hang"):
            return None
        return NozzleMark(
            t, int(tags["nozzle"]), str(row["event"]), _f(row.get("volume")), _i(row.get("rid")),
            tags.get("device", ""),
        )  # fmt: skip
    if kind == "delivery":
        if row.get("start_tc_volume") is None or row.get("end_tc_volume") is None:
            return None
        return GaugeDelivery(
            t=t,
            tank=int(tags["tank"]),
            product=tags.get("product", ""),
            start=int(row.get("start") or t),
            end=int(row.get("end") or t),
            start_tc=float(row["start_tc_volume"]),
            end_tc=float(row["end_tc_volume"]),
            start_volume=float(row.get("start_volume") or 0.0),
            end_volume=float(row.get("end_volume") or 0.0),
            start_temperature=_f(row.get("start_temperature")),
            end_temperature=_f(row.get("end_temperature")),
            rid=_i(row.get("rid")),
        )
    if kind == "pos_delivery":
        if row.get("volume") is None:
            return None
        return PosDelivery(
            t, int(tags["tank"]) if tags.get("tank") else None, tags.get("product", ""),
            float(row["volume"]), str(row.get("waybill_id") or ""), _i(row.get("rid")),
        )  # fmt: skip
    if kind == "pos_sale":
        if row.get("volume") is None:
            return None
        return PosSale(
            t, int(tags["nozzle"]) if tags.get("nozzle") else None, tags.get("product", ""),
            str(row.get("order_id") or ""), float(row["volume"]), float(row.get("amount") or 0.0),
            _i(row.get("rid")),
        )  # fmt: skip
    return None


async def read_points(
    influx: InfluxClient,
    station_filter: str,
    start_ms: int,
    end_ms: int,
    expansion: dict[str, float],
) -> dict[str, list[tuple[str, Any]]]:
    """Every point of the rules' measurements in ``(start_ms, end_ms]`` for the stations the
    filter names, per station, unsorted. ``expansion``: product -> 1/°C."""
    where = f"{station_filter} AND time > {_literal(start_ms)} AND time <= {_literal(end_ms)}"
    kinds = list(STATEMENTS)
    text = ";\n".join(STATEMENTS[k].format(where=where) for k in kinds)
    answers = await influx.query_many(text)
    out: dict[str, list[tuple[str, Any]]] = {}
    for kind, series in zip(kinds, answers, strict=True):
        for tags, row in _rows(series):
            point = _point(kind, tags, row, expansion)
            if point is not None:
                out.setdefault(tags["station"], []).append((kind, point))
    return out
