"""The detector type and the helpers detectors share (parsing series into typed rows)."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloud.rules.context import Outcome, RuleContext

__all__ = [
    "Detector",
    "FactorAt",
    "Reading",
    "Txn",
    "readings_by_tank",
    "tc_factor",
    "txns_by_nozzle",
]

DetectFn = Callable[[RuleContext], Outcome]


@dataclass(frozen=True, slots=True)
class Detector:
    """A named judgement: which query results and thresholds it needs, and the function."""

    name: str
    fn: DetectFn
    queries: tuple[str, ...] = ()
    thresholds: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class Reading:
    t: int  # ms
    tc: float
    volume: float
    status: int
    rid: int | None


@dataclass(frozen=True, slots=True)
class Txn:
    t: int  # ms, the end of fuelling (the point's time)
    nozzle: int
    volume: float
    start: int
    end: int
    order_id: str
    rid: int | None
    extra: dict[str, Any]


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def readings_by_tank(ctx: RuleContext, query: str) -> dict[tuple[str, int], list[Reading]]:
    out: dict[tuple[str, int], list[Reading]] = defaultdict(list)
    for tags, row in ctx.rows(query):
        if row.get("tc_volume") is None:
            continue
        out[(tags["station"], int(tags["tank"]))].append(
            Reading(
                t=int(row["time"]),
                tc=float(row["tc_volume"]),
                volume=float(row.get("volume") or row["tc_volume"]),
                status=int(row.get("status") or 0),
                rid=_int(row.get("rid")),
            )
        )
    for rows in out.values():
        rows.sort(key=lambda r: r.t)
    return out


def txns_by_nozzle(ctx: RuleContext, query: str) -> dict[tuple[str, int], list[Txn]]:
    out: dict[tuple[str, int], list[Txn]] = defaultdict(list)
    for tags, row in ctx.rows(query):
        if row.get("volume") is None:
            continue
        t = int(row["time"])
        out[(tags["station"], int(tags["nozzle"]))].append(
            Txn(
                t=t,
                nozzle=int(tags["nozzle"]),
                volume=float(row["volume"]),
                start=int(row.get("start") or t),
                end=int(row.get("end") or t),
                order_id=str(row.get("order_id") or ""),
                rid=_int(row.get("rid")),
                extra={
                    k: v
                    for k, v in row.items()
                    if k not in {"time", "volume", "start", "end", "order_id", "rid"}
                },
            )
        )
    for rows in out.values():
        rows.sort(key=lambda r: r.t)
    return out


def tc_factor(readings: list[Reading]) -> float:
    """The gauge's own temperature correction (20 °C volume per observed litre) over the window:
    metered sales are observed litres at about the tank's temperature."""
    gross = sum(r.volume for r in readings)
    return sum(r.tc for r in readings) / gross if gross > 0 else 1.0


class FactorAt:
    """The gauge's 20 °C factor (tc_volume / volume) at the last reading before a time: a sale
    is metered at the product's temperature then, which deliveries of warmer product shift."""

    def __init__(self, readings: list[Reading]) -> None:
        self._times = [r.t for r in readings if r.volume > 0]
        self._factors = [r.tc / r.volume for r in readings if r.volume > 0]

    def __call__(self, t_ms: int) -> float:
        if not self._times:
            return 1.0
        i = max(bisect_right(self._times, t_ms) - 1, 0)
        return self._factors[i]
