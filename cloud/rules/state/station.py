"""One station's running state: its tanks' models, its nozzles' totalizers, and the recent
business records the rules count.

Points arrive as the feed reads them (each stored point once). Sales go to their tank's model
at once (they mark when its nozzles were busy); readings, totalizer snapshots and the other
time-ordered checks wait in ``pending`` until ``HOLD`` behind the feed's horizon, so that every
sale that could cover a reading has arrived (a sale is reported at the hang, minutes after its
flow started) — then they are applied in time order.

Gaps: when the gauge stops reporting, the station's state does not move past its last reading
for up to ``DEFER`` (a gateway back from an outage sends its spool, oldest first, and those
points are applied in order); after that the gap is a gap, recorded in ``gaps`` so that no rule
turns it into a loss, a jump or a missing delivery.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
from fuelwatch.cloud.rules.state.tank import HOUR_MS, TankModel, TankParams

__all__ = ["DEFER_MS", "HOLD_MS", "Discontinuity", "StationState"]

HOLD_MS = 15 * 60_000
GAP_MS = 15 * 60_000  # no gauge reading this long: the feed was down
DEFER_MS = 6 * HOUR_MS
KEEP_MS = 84 * HOUR_MS  # business records: the 1-day rules with their edges, 3-day evidence
LOCAL = timedelta(hours=8)  # Asia/Shanghai: the local day of declarations and price references


@dataclass(frozen=True, slots=True)
class Discontinuity:
    nozzle: int
    kind: str  # jump, rollback, reset, rollback_in_sale
    t: int
    litres: float
    expected: float
    found: float
    before: tuple[str, int, int | None, str]  # measurement, time, rid, order id
    after: tuple[str, int, int | None, str]


@dataclass(slots=True)
class _Totalizer:
    value: float | None = None
    t: int = 0
    ref: tuple[str, int, int | None, str] = ("", 0, None, "")


@dataclass(slots=True)
class StationState:
    station: str
    nozzle_tank: dict[int, int | None]
    tank_product: dict[int, str] = field(default_factory=dict)
    tanks: dict[int, TankModel] = field(default_factory=dict)
    horizon: int = 0  # everything up to here has been applied
    last_reading: int = 0  # newest gauge reading received
    first_reading: int = 0
    pending: list[tuple[int, int, str, Any]] = field(default_factory=list)  # heap
    seq: int = 0
    sales: deque[Sale] = field(default_factory=deque)
    pos_sales: deque[PosSale] = field(default_factory=deque)
    hangs: deque[NozzleMark] = field(default_factory=deque)
    deliveries: deque[GaugeDelivery] = field(default_factory=deque)
    pos_deliveries: deque[PosDelivery] = field(default_factory=deque)
    gaps: deque[tuple[int, int]] = field(default_factory=deque)
    totalizers: dict[int, _Totalizer] = field(default_factory=dict)
    breaks: deque[Discontinuity] = field(default_factory=deque)
    unjudged_breaks: int = 0
    daily: dict[str, list[float]] = field(default_factory=dict)  # "date|product" -> vol, amt
    prices: dict[str, Counter[float]] = field(default_factory=dict)  # "date|product" -> counts
    offsets: dict[str, deque[tuple[int, float]]] = field(default_factory=dict)  # device -> skew
    reading_minutes: deque[int] = field(default_factory=deque)  # minutes with a reading
    spans: dict[int, deque[tuple[int, int]]] = field(default_factory=dict)  # nozzle -> flows
    lifted: dict[int, bool] = field(default_factory=dict)  # nozzle out of its holster now
    dropped_late: int = 0
    hold_ms: int = HOLD_MS

    # -- intake ------------------------------------------------------------------------------------

    def tank(self, number: int, params: TankParams) -> TankModel:
        model = self.tanks.get(number)
        nozzles = tuple(sorted(n for n, t in self.nozzle_tank.items() if t == number))
        if model is None or model.nozzles != nozzles:  # new, or the registry changed
            model = self.tanks[number] = TankModel(number, nozzles, params)
        return model

    def _push(self, t: int, kind: str, point: Any) -> None:
        if t <= self.horizon:
            self.dropped_late += 1  # arrived after its time was judged (beyond DEFER)
            return
        self.seq += 1
        heapq.heappush(self.pending, (t, self.seq, kind, point))

    def add(self, kind: str, point: Any, params: TankParams) -> None:
        if kind == "reading":
            r: Reading = point
            self.tank(r.tank, params)
            self.last_reading = max(self.last_reading, r.t)
            self.first_reading = self.first_reading or r.t
            self._push(r.t, kind, r)
        elif kind in ("sale", "hang"):
            point = self._on_gateway_clock(point)
            self._push(point.t, kind, point)
            if kind == "hang":
                return
            s: Sale = point
            tank = self.nozzle_tank.get(s.nozzle)
            if tank is not None:
                self.tank(tank, params).add_sale(s)
            self.spans.setdefault(s.nozzle, deque()).append((s.start, s.end))
        elif kind == "pos_delivery":
            d: PosDelivery = point
            tank = d.tank if d.tank is not None else self._tank_of_product(d.product)
            if tank is not None and tank in self.tanks:
                self.tanks[tank].add_declared(d.t, d.volume)
            self._push(d.t, kind, d)
        else:
            self._push(point.t, kind, point)

    def device_offset_ms(self, device: str) -> int:
        """The device's clock minus the gateway's (median of its recent polled records);
        0 while unknown or within a minute."""
        offsets = self.offsets.get(device)
        if not offsets or len(offsets) < 3:
            return 0
        values = sorted(o for _, o in offsets)
        median = values[len(values) // 2]
        return int(median * 1000) if abs(median) > 60 else 0

    def _on_gateway_clock(self, point: Any) -> Any:
        """A dispenser's record moved onto the gateway's clock (where the readings are)."""
        shift = self.device_offset_ms(getattr(point, "device", ""))
        if not shift:
            return point
        if isinstance(point, Sale):
            return point._replace(
                t=point.t - shift, start=point.start - shift, end=point.end - shift
            )
        return point._replace(t=point.t - shift)

    def _tank_of_product(self, product: str) -> int | None:
        """A POS delivery row without its tank: the product's only tank."""
        chosen = [t for t, p in self.tank_product.items() if p == product]
        return chosen[0] if len(chosen) == 1 else None

    # -- applying in time order -----------------------------------------------------------------

    def advance(self, feed_horizon: int) -> None:
        """Apply what is safe to judge: up to ``HOLD`` behind the feed, and not past the
        last gauge reading for up to ``DEFER`` (a gateway may still deliver its spool)."""
        safe = feed_horizon - self.hold_ms
        if self.last_reading:
            safe = min(safe, max(self.last_reading, feed_horizon - DEFER_MS))
        while self.pending and self.pending[0][0] <= safe:
            t, _, kind, point = heapq.heappop(self.pending)
            self._apply(t, kind, point)
        self.horizon = max(self.horizon, safe)
        self._prune(self.horizon)

    def _apply(self, t: int, kind: str, point: Any) -> None:
        if kind == "reading":
            self._reading_seen(t)
            model = self.tanks.get(point.tank)
            if model is not None:
                # a nozzle out of its holster may be dispensing before its sale is known
                lifted = any(self.lifted.get(n) for n in model.nozzles)
                model.add_reading(point, lifted=lifted)
            if point.gts is not None:
                self._offset(point.device, t, (point.ts or t) - point.gts)
        elif kind == "sale":
            self.sales.append(point)
            self._daily(point)
            self._totalizer_sale(point)
        elif kind == "snapshot":
            self._totalizer_snapshot(point)
            if point.gts is not None:
                self._offset(point.device, t, t - point.gts)
        elif kind == "pos_sale":
            self.pos_sales.append(point)
        elif kind == "hang":
            self.lifted[point.nozzle] = point.event == "lift"
            if point.event == "hang":
                self.hangs.append(point)
        elif kind == "delivery":
            self.deliveries.append(point)
        elif kind == "pos_delivery":
            self.pos_deliveries.append(point)

    def _reading_seen(self, t: int) -> None:
        minute = t // 60_000
        if self.reading_minutes and minute - self.reading_minutes[-1] > GAP_MS // 60_000:
            self.gaps.append((self.reading_minutes[-1] * 60_000, t))
        if not self.reading_minutes or self.reading_minutes[-1] != minute:
            self.reading_minutes.append(minute)

    def _offset(self, device: str, t: int, offset_ms: float) -> None:
        self.offsets.setdefault(device, deque()).append((t, offset_ms / 1000))

    def _daily(self, s: Sale) -> None:
        day = datetime.fromtimestamp(s.t / 1000, UTC) + LOCAL
        key = f"{day.date().isoformat()}|{s.product}"
        row = self.daily.setdefault(key, [0.0, 0.0])
        row[0] += s.volume
        row[1] += s.amount
        self.prices.setdefault(key, Counter())[round(s.unit_price, 2)] += 1

    # -- totalizers: every record's "before" is the previous record's "after" -------------------

    def in_gap(self, a: int, b: int) -> bool:
        """Was the gauge silent (the gateway offline) somewhere between ``a`` and ``b``? Also
        when it has been silent up to ``b`` (the gap is not closed by a reading yet)."""
        if self.reading_minutes and b - self.reading_minutes[-1] * 60_000 > GAP_MS:
            return True
        return any(ga < b and a < gb for ga, gb in self.gaps)

    def _totalizer_sale(self, s: Sale) -> None:
        if s.totalizer_before is None or s.totalizer_after is None:
            return
        track = self.totalizers.setdefault(s.nozzle, _Totalizer())
        ref = ("dispenser_transaction", s.t, s.rid, s.order_id)
        self._check(s.nozzle, track, s.totalizer_before, s.start, ref)
        if s.totalizer_after < s.totalizer_before - 0.05:
            self.breaks.append(
                Discontinuity(
                    s.nozzle,
                    "rollback_in_sale",
                    s.t,
                    s.totalizer_after - s.totalizer_before,
                    s.totalizer_before,
                    s.totalizer_after,
                    ref,
                    ref,
                )
            )
        track.value, track.t, track.ref = s.totalizer_after, s.t, ref

    def _totalizer_snapshot(self, snap: Snapshot) -> None:
        flows = self.spans.get(snap.nozzle, ())
        if self.lifted.get(snap.nozzle) or any(a <= snap.t <= b for a, b in flows):
            return  # counting up during a sale (its transaction may not be here yet)
        track = self.totalizers.setdefault(snap.nozzle, _Totalizer())
        ref = ("totalizer", snap.t, snap.rid, "")
        self._check(snap.nozzle, track, snap.volume_total, snap.t, ref)
        track.value, track.t, track.ref = snap.volume_total, snap.t, ref

    def _check(
        self,
        nozzle: int,
        track: _Totalizer,
        found: float,
        t: int,
        ref: tuple[str, int, int | None, str],
    ) -> None:
        if track.value is None:
            return
        gap = found - track.value
        if abs(gap) <= 0.05:
            return
        if self.in_gap(track.t, t):
            self.unjudged_breaks += 1  # sales may have been lost with the feed
            return
        kind = "reset" if found < 0.01 * track.value else "jump" if gap > 0 else "rollback"
        self.breaks.append(Discontinuity(nozzle, kind, t, gap, track.value, found, track.ref, ref))

    # -- housekeeping ------------------------------------------------------------------------

    def _prune(self, now: int) -> None:
        keep = now - KEEP_MS
        for dq in (self.sales, self.pos_sales, self.hangs):
            while dq and dq[0].t < keep:
                dq.popleft()
        longer = now - 3 * 24 * HOUR_MS
        for dq2 in (self.deliveries, self.pos_deliveries, self.breaks):
            while dq2 and dq2[0].t < longer:
                dq2.popleft()
        while self.gaps and self.gaps[0][1] < now - 35 * 24 * HOUR_MS:
            self.gaps.popleft()
        while self.reading_minutes and self.reading_minutes[0] < (now - 8 * HOUR_MS) // 60_000:
            self.reading_minutes.popleft()
        for flows in self.spans.values():
            while flows and flows[0][1] < now - HOUR_MS:
                flows.popleft()
        for offsets in self.offsets.values():
            while offsets and offsets[0][0] < now - HOUR_MS:
                offsets.popleft()
        if len(self.daily) > 4 * 120:
            cutoff = (datetime.fromtimestamp(now / 1000, UTC) + LOCAL - timedelta(days=110)).date()
            for key in [k for k in self.daily if k.split("|")[0] < cutoff.isoformat()]:
                del self.daily[key]
        if len(self.prices) > 4 * 10:
            cutoff = (datetime.fromtimestamp(now / 1000, UTC) + LOCAL - timedelta(days=9)).date()
            for key in [k for k in self.prices if k.split("|")[0] < cutoff.isoformat()]:
                del self.prices[key]
