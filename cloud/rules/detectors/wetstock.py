"""进销存 reconciliation, leak estimate and tank capacity/strapping checks (wetstock).

All volumes are compared at 20 °C: the gauge's ``tc_volume`` and metered sales converted with
the gauge's own correction factor over the window (``tc_factor``).
"""

from __future__ import annotations

from collections import defaultdict

from cloud.rules.context import Comparison, Finding, Outcome, RuleContext, iso
from cloud.rules.detectors.base import (
    FactorAt,
    Reading,
    Txn,
    readings_by_tank,
    tc_factor,
    txns_by_nozzle,
)
from cloud.rules.stats import pooled_slope

__all__ = ["book_variance", "capacity_check", "leak_rate", "strapping_ratio"]

HOUR_MS = 3_600_000


def _tank_sales(ctx: RuleContext, query: str) -> dict[tuple[str, int], list[Txn]]:
    """Sales per tank (nozzles mapped to tanks by the registry)."""
    out: dict[tuple[str, int], list[Txn]] = defaultdict(list)
    for (station, nozzle), txns in txns_by_nozzle(ctx, query).items():
        fact = ctx.facts.stations.get(station)
        tank = fact.nozzles[nozzle].tank if fact and nozzle in fact.nozzles else None
        if tank is not None:
            out[(station, tank)] += txns
    return out


def _delivered(ctx: RuleContext, query: str) -> dict[tuple[str, int], list[tuple[int, float]]]:
    out: dict[tuple[str, int], list[tuple[int, float]]] = defaultdict(list)
    for tags, row in ctx.rows(query):
        station = tags["station"]
        fact = ctx.facts.stations.get(station)
        tank = int(tags["tank"]) if tags.get("tank") else None
        if tank is None and fact is not None:  # a POS row without its tank: the product's tank
            tanks = [t.tank for t in fact.tanks.values() if t.product == tags.get("product")]
            tank = tanks[0] if len(tanks) == 1 else None
        if tank is not None and row.get("volume") is not None:
            out[(station, tank)].append((int(row["time"]), float(row["volume"])))
    return out


def book_variance(ctx: RuleContext) -> Outcome:
    """Book = opening + ticketed deliveries − metered sales; variance = gauged − book."""
    out = Outcome()
    sales = _tank_sales(ctx, "sales")
    delivered = _delivered(ctx, "deliveries")
    pct, const = ctx.number("variance_percent"), ctx.number("variance_litres")
    for (station, tank), rows in readings_by_tank(ctx, "readings").items():
        # a delivery in progress at an end of the window: the book runs from the first to the
        # last reading outside it, and counts the deliveries declared in between
        quiet = [r for r in rows if not r.status]
        if len(quiet) < 2:
            continue
        first, last = quiet[0], quiet[-1]
        factor = FactorAt(rows)
        tank_sales = [t for t in sales.get((station, tank), []) if first.t < t.t <= last.t]
        metered = sum(t.volume for t in tank_sales)
        sold_tc = sum(t.volume * factor(t.t) for t in tank_sales)
        opening, closing = first.tc, last.tc
        deliveries = sum(v for t, v in delivered.get((station, tank), []) if first.t < t <= last.t)
        book = opening + deliveries - sold_tc
        variance = closing - book
        allowed = pct / 100 * sold_tc + const
        subject = f"tank:{tank}"
        if abs(variance) <= allowed:
            out.clear(station, subject)
            continue
        out.fire(
            Finding(
                station=station,
                subject=subject,
                comparison=Comparison(
                    closing, book, allowed, "L@20°C", "|measured − expected| > threshold"
                ),
                window=(ctx.start, ctx.end),
                values={
                    "opening_l20": round(opening, 2),
                    "deliveries_l20": round(deliveries, 2),
                    "metered_sales_l": round(metered, 2),
                    "metered_sales_l20": round(sold_tc, 2),
                    "tc_factor": round(tc_factor(rows), 6),
                    "book_l20": round(book, 2),
                    "gauged_l20": round(closing, 2),
                    "variance_l20": round(variance, 2),
                    "variance_percent_of_sales": round(100 * variance / sold_tc, 3)
                    if sold_tc
                    else None,
                    "opening_at": iso(first.t),
                    "closing_at": iso(last.t),
                    "opening_rid": first.rid,
                    "closing_rid": last.rid,
                },
            )
        )
    return out


def _busy(
    ctx: RuleContext, query: str, settle_ms: int
) -> dict[tuple[str, int], list[tuple[int, int]]]:
    """Per tank, the intervals in which one of its nozzles was dispensing (plus settling)."""
    out: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for (station, nozzle), txns in txns_by_nozzle(ctx, query).items():
        fact = ctx.facts.stations.get(station)
        tank = fact.nozzles[nozzle].tank if fact and nozzle in fact.nozzles else None
        if tank is not None:
            out[(station, tank)] += [(t.start - 60_000, t.end + settle_ms) for t in txns]
    for spans in out.values():
        spans.sort()
    return out


def _idle_segments(
    rows: list[Reading], busy: list[tuple[int, int]], *, settle_ms: int, min_points: int
) -> list[list[tuple[float, float]]]:
    segments: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    last_delivery = -(1 << 62)
    i = 0
    previous_t: int | None = None
    for r in rows:
        while i < len(busy) and busy[i][1] < r.t:
            i += 1
        in_flow = i < len(busy) and busy[i][0] <= r.t <= busy[i][1]
        if r.status:
            last_delivery = r.t
        quiet = not in_flow and not r.status and r.t - last_delivery > settle_ms
        gap = previous_t is not None and r.t - previous_t > 5 * 60_000
        previous_t = r.t
        if not quiet or gap:
            if len(current) >= min_points:
                segments.append(current)
            current = []
            if not quiet:
                continue
        current.append((r.t / HOUR_MS, r.tc))
    if len(current) >= min_points:
        segments.append(current)
    return segments


def leak_rate(ctx: RuleContext) -> Outcome:
    """SIR-style: the loss rate (L/h at 20 °C) is the common slope of the gauged volume over
    the idle periods (no dispensing, no delivery), each period with its own level."""
    out = Outcome()
    settle_ms = int(ctx.options.get("settle_minutes_after_sale", 5)) * 60_000
    delivery_settle_ms = int(ctx.options.get("settle_hours_after_delivery", 3)) * HOUR_MS
    min_points = int(ctx.options.get("min_segment_points", 10))
    busy = _busy(ctx, "transactions", settle_ms)
    threshold = ctx.number("leak_litres_per_hour")
    min_t, min_hours = ctx.number("min_t"), ctx.number("min_idle_hours")
    for (station, tank), rows in readings_by_tank(ctx, "readings").items():
        segments = _idle_segments(
            rows, busy.get((station, tank), []), settle_ms=delivery_settle_ms, min_points=min_points
        )
        idle_hours = sum(s[-1][0] - s[0][0] for s in segments)
        fit = pooled_slope(segments) if segments else None
        subject = f"tank:{tank}"
        if fit is None or idle_hours < min_hours:
            continue  # inconclusive: too little quiet time
        slope, se, n = fit
        loss = -slope
        t_stat = loss / se if se > 0 else 0.0
        if loss <= threshold or t_stat < min_t:
            out.clear(station, subject)
            continue
        out.fire(
            Finding(
                station=station,
                subject=subject,
                comparison=Comparison(loss, 0.0, threshold, "L/h", "measured > threshold"),
                window=(ctx.start, ctx.end),
                values={
                    "loss_l_per_h": round(loss, 3),
                    "standard_error_l_per_h": round(se, 3),
                    "t_statistic": round(t_stat, 2),
                    "idle_hours": round(idle_hours, 2),
                    "idle_segments": len(segments),
                    "readings_used": n,
                    "min_detectable_l_per_h": round(min_t * se, 3),
                },
            )
        )
    return out


def strapping_ratio(ctx: RuleContext) -> Outcome:
    """Gauge drop vs metered sales over delivery-free stretches: a strapping table scaled to a
    false capacity makes every drop off by the same factor."""
    out = Outcome()
    txns = txns_by_nozzle(ctx, "transactions")
    limit, min_sales = ctx.number("deviation_percent"), ctx.number("min_sales_litres")
    for (station, tank), rows in readings_by_tank(ctx, "readings").items():
        fact = ctx.facts.stations.get(station)
        if fact is None:
            continue
        factor = FactorAt(rows)
        sold = sorted(
            (t.t, t.volume * factor(t.t))
            for n in fact.nozzles_of(tank)
            for t in txns.get((station, n), [])
        )
        drop = metered = 0.0
        stretch: list[Reading] = []
        for r in [*rows, None]:
            if r is not None and not r.status:
                stretch.append(r)
                continue
            if len(stretch) >= 2:
                a, b = stretch[0].t, stretch[-1].t
                drop += stretch[0].tc - stretch[-1].tc
                metered += sum(v for e, v in sold if a < e <= b)
            stretch = []
        subject = f"tank:{tank}"
        if metered < min_sales:
            continue
        deviation = 100 * (drop / metered - 1)
        if abs(deviation) <= limit:
            out.clear(station, subject)
            continue
        declared = fact.tanks[tank].capacity_l if tank in fact.tanks else None
        out.fire(
            Finding(
                station=station,
                subject=subject,
                comparison=Comparison(
                    drop, metered, limit, "L@20°C", "|measured/expected − 1| × 100 > threshold %"
                ),
                window=(ctx.start, ctx.end),
                values={
                    "gauge_drop_l20": round(drop, 2),
                    "metered_sales_l20": round(metered, 2),
                    "deviation_percent": round(deviation, 3),
                    "declared_capacity_l": declared,
                    "implied_real_capacity_l": round(declared * metered / drop, 1)
                    if declared and drop > 0
                    else None,
                },
            )
        )
    return out


def capacity_check(ctx: RuleContext) -> Outcome:
    """The gauge's table capacity (volume + ullage + water), its highest reading and the
    registry's strapping table against the declared capacity."""
    out = Outcome()
    tolerance = ctx.number("tolerance_percent")
    for tags, row in ctx.rows("levels"):
        station, tank = tags["station"], int(tags["tank"])
        fact = ctx.facts.stations.get(station)
        if fact is None or tank not in fact.tanks:
            continue
        declared = fact.tanks[tank].capacity_l
        gauge_capacity = sum(float(row.get(k) or 0.0) for k in ("volume", "ullage", "water_volume"))
        max_volume = float(row.get("max_volume") or 0.0)
        strapping = fact.tanks[tank].strapping
        table_max = float(strapping[-1][1]) if strapping else None
        measured = max(gauge_capacity, max_volume, table_max or 0.0)
        allowed = declared * (1 + tolerance / 100)
        low = declared * (1 - tolerance / 100)
        too_small = table_max is not None and table_max < low
        subject = f"tank:{tank}"
        if measured <= allowed and not too_small:
            out.clear(station, subject)
            continue
        out.fire(
            Finding(
                station=station,
                subject=subject,
                comparison=Comparison(
                    measured,
                    declared,
                    tolerance,
                    "L",
                    "|measured/expected − 1| × 100 > threshold %",
                ),
                window=(ctx.start, ctx.end),
                values={
                    "declared_capacity_l": declared,
                    "gauge_table_capacity_l": round(gauge_capacity, 1),
                    "max_gauged_volume_l": round(max_volume, 1),
                    "max_gauged_height_mm": row.get("max_height"),
                    "registry_strapping_max_l": table_max,
                },
            )
        )
    return out
