"""私自收油: every delivery the gauge saw must match a registered one, and agree with it.

A gauge delivery (``tank_delivery``) delivered ``end_tc − start_tc`` plus what the tank's
nozzles sold meanwhile. It is matched to the nearest unused e-waybill (department data, same
product, arrival within the tolerance) or, failing that, the POS's delivery row (same tank or
product). No match: unregistered. A match whose volume differs beyond the tolerance: mismatch.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from fuelwatch.cloud.rules.context import Comparison, Finding, Outcome, RawRecord, RuleContext, iso
from fuelwatch.cloud.rules.state.regression import normal_quantile
from fuelwatch.cloud.store.models.departments import EWaybill

__all__ = ["unregistered_delivery", "waybill_mismatch"]


@dataclass(frozen=True, slots=True)
class _Delivery:
    station: str
    tank: int
    product: str
    start: int
    end: int
    delivered_l20: float
    rise_l20: float
    sold_l20: float
    rid: int | None
    tank_l20: float  # in the tank after the delivery

    def sd(self, ctx: RuleContext) -> float:
        """SD of the gauge's measure of a delivery: both readings' noise, and the probe's
        error on freshly mixed product (a fraction of the tank's volume)."""
        thermal = ctx.option("thermal_fraction", 0.001) * self.tank_l20
        return math.sqrt(2 * ctx.option("gauge_sd_litres", 5.0) ** 2 + thermal**2)

    def record(self) -> RawRecord:
        return RawRecord(
            "tank_delivery",
            self.end,
            self.rid,
            {
                "tank": self.tank,
                "start": iso(self.start),
                "delivered_l20": round(self.delivered_l20, 2),
            },
        )


@dataclass(frozen=True, slots=True)
class _Doc:
    kind: str  # ewaybill, pos_delivery
    ref: str
    product: str
    tank: int | None
    t: int
    volume: float


def _deliveries(ctx: RuleContext) -> list[_Delivery]:
    """Every delivery the gauges closed in the window, with what the tank's nozzles sold
    meanwhile (20 °C, from the running state: all of the unloading's sales are known)."""
    out = []
    for state in ctx.stations():
        for d in state.deliveries:
            if not ctx.start_ms < d.t <= ctx.end_ms:
                continue
            model = state.tanks.get(d.tank)
            sold = model.sales_between(d.start, d.end) if model is not None else 0.0
            rise = d.end_tc - d.start_tc
            out.append(
                _Delivery(
                    state.station, d.tank, d.product, d.start, d.end, rise + sold, rise, sold,
                    d.rid, d.end_tc,
                )
            )  # fmt: skip
    return sorted(out, key=lambda d: d.end)


def _docs(ctx: RuleContext, tolerance: timedelta) -> dict[str, list[_Doc]]:
    docs: dict[str, list[_Doc]] = defaultdict(list)
    stations = list(ctx.facts.stations)
    rows = ctx.session.scalars(
        select(EWaybill).where(
            EWaybill.station_id.in_(stations),
            EWaybill.arrived_at > ctx.start - tolerance,
            EWaybill.arrived_at <= ctx.now,
        )
    )
    for w in rows:
        docs[w.station_id].append(
            _Doc(
                "ewaybill",
                w.waybill_no,
                w.product,
                None,
                int(w.arrived_at.timestamp() * 1000),
                w.volume_l,
            )
        )
    for state in ctx.stations():
        for p in state.pos_deliveries:
            if p.t <= ctx.end_ms + tolerance.total_seconds() * 1000:
                docs[state.station].append(
                    _Doc("pos_delivery", p.waybill_id, p.product, p.tank, p.t, p.volume)
                )
    return docs


def _match(ctx: RuleContext) -> list[tuple[_Delivery, _Doc | None, list[_Doc]]]:
    tol = timedelta(hours=ctx.number("match_hours"))
    tol_ms = int(tol.total_seconds() * 1000)
    docs = _docs(ctx, tol)
    used: set[tuple[str, str, str]] = set()
    out = []
    for d in _deliveries(ctx):
        near = [
            doc
            for doc in docs.get(d.station, [])
            if doc.product == d.product
            and (doc.tank in (None, d.tank))
            and d.start - tol_ms <= doc.t <= d.end + tol_ms
        ]
        pick = None
        for kind in ("ewaybill", "pos_delivery"):
            free = [x for x in near if x.kind == kind and (d.station, x.kind, x.ref) not in used]
            if free:
                pick = min(free, key=lambda x: abs(x.t - d.end))
                used.add((d.station, pick.kind, pick.ref))
                # the POS row of the same waybill is the same delivery
                used.add(
                    (d.station, "pos_delivery" if kind == "ewaybill" else "ewaybill", pick.ref)
                )
                break
        out.append((d, pick, near))
    return out


def _subject(d: _Delivery) -> str:
    return f"tank:{d.tank}:delivery:{iso(d.end)}"


def unregistered_delivery(ctx: RuleContext) -> Outcome:
    out = Outcome()
    minimum = ctx.number("min_litres")
    z = normal_quantile(1 - ctx.number("alpha"))
    for d, doc, _near in _match(ctx):
        if d.delivered_l20 < max(minimum, z * d.sd(ctx)):
            continue
        if doc is not None:
            out.clear(d.station, _subject(d))
            continue
        out.fire(
            Finding(
                station=d.station,
                subject=_subject(d),
                comparison=Comparison(
                    d.delivered_l20,
                    0.0,
                    minimum,
                    "L@20°C",
                    "measured ≥ threshold with no registered delivery",
                ),
                window=(ctx.start, ctx.end),
                values={
                    "tank": d.tank,
                    "product": d.product,
                    "unloading_start": iso(d.start),
                    "unloading_end": iso(d.end),
                    "gauge_rise_l20": round(d.rise_l20, 2),
                    "sold_during_delivery_l20": round(d.sold_l20, 2),
                    "standard_error_l20": round(d.sd(ctx), 2),
                    "alpha": ctx.number("alpha"),
                    "match_hours": ctx.number("match_hours"),
                },
                records=[d.record()],
            )
        )
    return out


def waybill_mismatch(ctx: RuleContext) -> Outcome:
    out = Outcome()
    pct = ctx.number("document_mpe_percent")
    z = normal_quantile(1 - ctx.number("alpha") / 2)
    for d, doc, _near in _match(ctx):
        if doc is None:
            continue
        allowed = pct / 100 * doc.volume + z * d.sd(ctx)
        if abs(d.delivered_l20 - doc.volume) <= allowed:
            out.clear(d.station, _subject(d))
            continue
        out.fire(
            Finding(
                station=d.station,
                subject=_subject(d),
                comparison=Comparison(
                    d.delivered_l20,
                    doc.volume,
                    allowed,
                    "L@20°C",
                    "|measured − expected| > threshold",
                ),
                window=(ctx.start, ctx.end),
                values={
                    "tank": d.tank,
                    "document": doc.kind,
                    "document_ref": doc.ref,
                    "difference_l20": round(d.delivered_l20 - doc.volume, 2),
                    "difference_percent": round(100 * (d.delivered_l20 / doc.volume - 1), 3),
                    "gauge_rise_l20": round(d.rise_l20, 2),
                    "sold_during_delivery_l20": round(d.sold_l20, 2),
                    "document_band_l20": round(pct / 100 * doc.volume, 2),
                    "standard_error_l20": round(d.sd(ctx), 2),
                    "alpha": ctx.number("alpha"),
                },
                records=[d.record()],
            )
        )
    return out
