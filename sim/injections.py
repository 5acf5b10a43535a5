"""Fraud and fault injections at run time: the station model asks, this answers and labels.

Every kind changes exactly one thing (docs/simulator.md has the table):

- ``over_registration``: sales that start while on register ``percent`` more than delivered;
- ``offbook_bypass``: hidden sales drawn straight from the tank (no record anywhere);
- ``pos_omission``: a share of the dispenser's sales left out of the POS push;
- ``totalizer_jump`` / ``totalizer_rollback``: the nozzle's volume totalizer moves by itself;
- ``unregistered_delivery``: a tanker unloads with no waybill and no POS declaration;
- ``delivery_mismatch``: a delivery puts ``percent`` more or less in than its waybill says;
- ``declared_capacity``: the station registry (and optionally the gauge) has another capacity;
- ``leak``: the tank loses ``litres_per_hour``;
- ``gateway_unplugged``: the feed stops (devices unreachable), the POS pushes its backlog later;
- ``clock_skew``: one device's clock is off by ``offset_seconds``;
- ``price_out_of_range``: the product sells at a price outside the permitted range.

Windowed kinds are resolved up front into periods (windows cut by the optional daily hours)
and get one label per period; the station fills in affected order ids and effects.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass

from fuelwatch.sim.clock import DAY_MS
from fuelwatch.sim.labels import Label, LabelBook
from fuelwatch.sim.scenario import Scenario
from fuelwatch.sim.scenario_faults import (
    ClockSkew,
    DeclaredCapacity,
    DeliveryMismatch,
    GatewayUnplugged,
    Injection,
    Leak,
    OffbookBypass,
    OverRegistration,
    PosOmission,
    PriceOutOfRange,
    TotalizerJump,
    UnregisteredDelivery,
)
from fuelwatch.sim.strapping import HorizontalCylinder

__all__ = ["Injections", "Scheduled"]

UNITS = {
    "over_registration": "%",
    "offbook_bypass": "sales/day",
    "pos_omission": "share",
    "totalizer_jump": "L",
    "totalizer_rollback": "L",
    "unregistered_delivery": "L20",
    "delivery_mismatch": "%",
    "declared_capacity": "L",
    "leak": "L/h",
    "gateway_unplugged": "s",
    "clock_skew": "s",
    "price_out_of_range": "yuan/L",
}


@dataclass(slots=True)
class Scheduled:
    """One windowed injection with its periods ([start, end) ms) and a label per period."""

    index: int
    spec: Injection
    periods: list[tuple[int, int]]
    labels: list[Label]

    def period_at(self, t_ms: int) -> int | None:
        i = bisect_right(self.periods, (t_ms, 1 << 62)) - 1
        if i >= 0 and self.periods[i][0] <= t_ms < self.periods[i][1]:
            return i
        return None


def _periods(
    windows: list[tuple[int, int]], hours: tuple[int, int] | None, utc_offset_s: int
) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    off = utc_offset_s * 1000
    for start, end in windows:
        if hours is None:
            out.append((start, end))
            continue
        h1, h2 = (h * 60_000 for h in hours)
        # local midnight of the day before the window: a 22:00-02:00 range may start there
        day = (start + off) // DAY_MS * DAY_MS - off - DAY_MS
        while day < end:
            a = day + h1
            b = day + h2 if h2 > h1 else day + DAY_MS + h2
            if max(a, start) < min(b, end):
                out.append((max(a, start), min(b, end)))
            day += DAY_MS
    out.sort()
    merged: list[tuple[int, int]] = []
    for start, end in out:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _magnitude(spec: Injection, scenario: Scenario) -> float:
    match spec:
        case OverRegistration() | DeliveryMismatch():
            return spec.percent
        case OffbookBypass():
            return spec.sales_per_day
        case PosOmission():
            return spec.share
        case Leak():
            return spec.litres_per_hour
        case ClockSkew():
            return spec.offset_seconds
        case PriceOutOfRange():
            return spec.price
        case DeclaredCapacity():
            return round(spec.declared_litres - scenario_capacity(scenario, spec.tank), 1)
        case TotalizerJump() | UnregisteredDelivery():
            return spec.litres
        case _:
            return 0.0


def scenario_capacity(scenario: Scenario, tank: int) -> float:
    spec = scenario.tank(tank)
    return HorizontalCylinder(spec.diameter_mm, spec.length_mm, spec.head_depth_mm).capacity


class Injections:
    def __init__(self, scenario: Scenario, book: LabelBook) -> None:
        self.scenario = scenario
        self.book = book
        self.windowed: dict[str, list[Scheduled]] = defaultdict(list)
        self.one_off: list[tuple[int, TotalizerJump | UnregisteredDelivery]] = []
        self.declared: dict[int, tuple[int, DeclaredCapacity]] = {}
        for index, spec in enumerate(scenario.injections):
            if isinstance(spec, TotalizerJump | UnregisteredDelivery):
                self.one_off.append((index, spec))
            elif isinstance(spec, DeclaredCapacity):
                self.declared[spec.tank] = (index, spec)
                label = self.label(index, spec, scenario.start_ms, scenario.end_ms)
                label.effect.update(
                    declared=spec.declared_litres,
                    real=round(scenario_capacity(scenario, spec.tank), 1),
                    gauge_table=spec.gauge_table,
                )
                self.book.add(label)
            else:
                self._schedule(index, spec)

    def _schedule(self, index: int, spec: Injection) -> None:
        sc = self.scenario
        windows = [(sc.at_ms(w.start), sc.at_ms(w.end)) for w in getattr(spec, "windows", [])]
        periods = _periods(windows, getattr(spec, "hours", None), sc.utc_offset_s)
        labels = []
        if not isinstance(spec, DeliveryMismatch):  # labelled per delivery instead
            labels = [self.book.add(self.label(index, spec, start, end)) for start, end in periods]
        self.windowed[spec.kind].append(Scheduled(index, spec, periods, labels))

    def label(self, index: int, spec: Injection, start: int, end: int) -> Label:
        outage = isinstance(spec, GatewayUnplugged)
        return Label(
            kind=spec.kind,
            start=start,
            end=end,
            magnitude=(end - start) / 1000 if outage else _magnitude(spec, self.scenario),
            unit=UNITS[spec.kind],
            injection=index,
            tank=getattr(spec, "tank", None),
            nozzle=getattr(spec, "nozzle", None),
            product=getattr(spec, "product", None),
            device=getattr(spec, "device", None),
        )

    def _active(self, kind: str, t_ms: int) -> list[tuple[Scheduled, int]]:
        hits = []
        for item in self.windowed.get(kind, ()):
            period = item.period_at(t_ms)
            if period is not None:
                hits.append((item, period))
        return hits

    # -- questions the station asks --------------------------------------------------------

    def boost(self, nozzle: int, t_ms: int) -> tuple[float, Label | None]:
        """Over-registration factor for a sale starting now on ``nozzle``."""
        for item, period in self._active("over_registration", t_ms):
            spec = item.spec
            assert isinstance(spec, OverRegistration)
            if spec.nozzle == nozzle:
                return 1 + spec.percent / 100, item.labels[period]
        return 1.0, None

    def price(self, product: str, t_ms: int) -> tuple[float, Label] | None:
        for item, period in self._active("price_out_of_range", t_ms):
            spec = item.spec
            assert isinstance(spec, PriceOutOfRange)
            if spec.product == product:
                return spec.price, item.labels[period]
        return None

    def omitted(self, nozzle: int, order_id: str, t_ms: int) -> Label | None:
        """The POS omission label if this sale is left out of the POS push."""
        for item, period in self._active("pos_omission", t_ms):
            spec = item.spec
            assert isinstance(spec, PosOmission)
            if spec.nozzle not in (None, nozzle):
                continue
            # a deterministic per-order draw: the same order is always in or out
            if zlib.crc32(order_id.encode()) / 2**32 < spec.share:
                return item.labels[period]
        return None

    def delivery_change(self, tank: int, t_ms: int) -> tuple[int, DeliveryMismatch] | None:
        for item, _ in self._active("delivery_mismatch", t_ms):
            spec = item.spec
            assert isinstance(spec, DeliveryMismatch)
            if spec.tank == tank:
                return item.index, spec
        return None

    def clock_offset(self, device: str, t_ms: int) -> int:
        total = 0
        for item, _ in self._active("clock_skew", t_ms):
            spec = item.spec
            assert isinstance(spec, ClockSkew)
            if spec.device == device:
                total += int(spec.offset_seconds * 1000)
        return total

    def outage(self, t_ms: int) -> bool:
        return bool(self._active("gateway_unplugged", t_ms))

    def outage_end(self, t_ms: int) -> int | None:
        """When the outage in force at ``t_ms`` ends (None if there is none)."""
        ends = [item.periods[p][1] for item, p in self._active("gateway_unplugged", t_ms)]
        return max(ends) if ends else None

    def scheduled(self, kind: str) -> list[Scheduled]:
        return list(self.windowed.get(kind, ()))
