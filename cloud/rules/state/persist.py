"""A station's state as JSON-able data and back (no pickle: the registry is not code)."""

from __future__ import annotations

from collections import Counter, deque
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
from fuelwatch.cloud.rules.state.station import Discontinuity, StationState, _Totalizer
from fuelwatch.cloud.rules.state.tank import TankModel, TankParams

__all__ = ["VERSION", "dump_station", "load_station"]

VERSION = 1
_KINDS: dict[str, Any] = {
    "reading": Reading,
    "sale": Sale,
    "snapshot": Snapshot,
    "hang": NozzleMark,
    "delivery": GaugeDelivery,
    "pos_delivery": PosDelivery,
    "pos_sale": PosSale,
}


def dump_station(s: StationState) -> dict[str, Any]:
    return {
        "version": VERSION,
        "station": s.station,
        "nozzle_tank": [[n, t] for n, t in s.nozzle_tank.items()],
        "tank_product": [[t, p] for t, p in s.tank_product.items()],
        "tanks": [m.dump() for m in s.tanks.values()],
        "horizon": s.horizon,
        "last_reading": s.last_reading,
        "first_reading": s.first_reading,
        "pending": [[t, q, k, list(p)] for t, q, k, p in s.pending],
        "seq": s.seq,
        "sales": [list(x) for x in s.sales],
        "pos_sales": [list(x) for x in s.pos_sales],
        "hangs": [list(x) for x in s.hangs],
        "deliveries": [list(x) for x in s.deliveries],
        "pos_deliveries": [list(x) for x in s.pos_deliveries],
        "gaps": [list(x) for x in s.gaps],
        "totalizers": [[n, z.value, z.t, list(z.ref)] for n, z in s.totalizers.items()],
        "breaks": [
            [b.nozzle, b.kind, b.t, b.litres, b.expected, b.found, list(b.before), list(b.after)]
            for b in s.breaks
        ],
        "unjudged_breaks": s.unjudged_breaks,
        "daily": s.daily,
        "prices": {k: [[p, c] for p, c in v.items()] for k, v in s.prices.items()},
        "offsets": {d: [list(x) for x in v] for d, v in s.offsets.items()},
        "reading_minutes": list(s.reading_minutes),
        "spans": [[n, [list(x) for x in v]] for n, v in s.spans.items()],
        "dropped_late": s.dropped_late,
    }


def load_station(data: dict[str, Any], params: TankParams) -> StationState:
    if data.get("version") != VERSION:
        raise ValueError(f"state version {data.get('version')} is not {VERSION}")
    s = StationState(
        data["station"],
        {int(n): (None if t is None else int(t)) for n, t in data["nozzle_tank"]},
        {int(t): str(p) for t, p in data["tank_product"]},
    )
    s.tanks = {int(m["tank"]): TankModel.load(m, params) for m in data["tanks"]}
    s.horizon, s.last_reading, s.first_reading = (
        data["horizon"],
        data["last_reading"],
        data["first_reading"],
    )
    s.pending = [(t, q, k, _KINDS[k](*p)) for t, q, k, p in data["pending"]]
    s.seq = data["seq"]
    s.sales = deque(Sale(*x) for x in data["sales"])
    s.pos_sales = deque(PosSale(*x) for x in data["pos_sales"])
    s.hangs = deque(NozzleMark(*x) for x in data["hangs"])
    s.deliveries = deque(GaugeDelivery(*x) for x in data["deliveries"])
    s.pos_deliveries = deque(PosDelivery(*x) for x in data["pos_deliveries"])
    s.gaps = deque((a, b) for a, b in data["gaps"])
    s.totalizers = {int(n): _Totalizer(v, t, tuple(ref)) for n, v, t, ref in data["totalizers"]}
    s.breaks = deque(
        Discontinuity(n, k, t, lit, e, f, tuple(b), tuple(a))
        for n, k, t, lit, e, f, b, a in data["breaks"]
    )
    s.unjudged_breaks = data["unjudged_breaks"]
    s.daily = {k: list(v) for k, v in data["daily"].items()}
    s.prices = {k: Counter({float(p): int(c) for p, c in v}) for k, v in data["prices"].items()}
    s.offsets = {d: deque((int(t), float(o)) for t, o in v) for d, v in data["offsets"].items()}
    s.reading_minutes = deque(data["reading_minutes"])
    s.spans = {int(n): deque((a, b) for a, b in v) for n, v in data["spans"]}
    s.dropped_late = data["dropped_late"]
    return s
