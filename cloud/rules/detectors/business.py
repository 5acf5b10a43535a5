"""The station's business records against its dispensers: POS silence, missing orders on
either side, revenue gap, prices and impossible values, dispensing cycles vs transactions."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fuelwatch.cloud.rules.context import (
    MAX_RECORDS,
    Comparison,
    Finding,
    Outcome,
    RawRecord,
    RuleContext,
)
from fuelwatch.cloud.rules.state.points import NozzleMark, PosSale, Sale
from fuelwatch.cloud.rules.state.views import POS_AFTER_MS, in_window

__all__ = [
    "impossible_values",
    "order_imbalance",
    "pos_link",
    "pos_silent",
    "price_range",
    "tax_gap",
]


def _by_station(ctx: RuleContext, query: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for tags, row in ctx.rows(query):
        out[tags["station"]].append({**tags, **row})
    return out


def _rec(measurement: str, row: dict[str, Any], *keys: str) -> RawRecord:
    return RawRecord(measurement, int(row["time"]), row.get("rid"), {k: row.get(k) for k in keys})


def _stations_with_dispensers(ctx: RuleContext) -> list[str]:
    return [s for s, f in ctx.facts.stations.items() if f.nozzles]


def _business(
    ctx: RuleContext,
) -> list[tuple[str, list[Sale], list[PosSale]]]:
    """Per station with dispensers: its transactions in the window and its POS sales in the
    window and up to ``POS_AFTER_MS`` past it (a POS row follows its sale by a minute or two),
    from the station's recent records (no rows built: these rules run often over a day)."""
    states = {st.station: st for st in ctx.stations()}
    start, end = ctx.start_ms, ctx.end_ms
    out: list[tuple[str, list[Sale], list[PosSale]]] = []
    for station in _stations_with_dispensers(ctx):
        st = states.get(station)
        if st is None:
            out.append((station, [], []))
            continue
        sold = in_window(st.sales, start, end)
        out.append((station, sold, in_window(st.pos_sales, start, end + POS_AFTER_MS)))
    return out


def pos_silent(ctx: RuleContext) -> Outcome:
    """经营系统: dispensers sold, the POS reported (almost) nothing."""
    out = Outcome()
    minimum, share = ctx.number("min_transactions"), ctx.number("min_pos_share_percent")
    for station, sold, reported in _business(ctx):
        if len(sold) < minimum:
            continue  # too quiet to say
        ratio = 100 * len(reported) / len(sold)
        if ratio >= share:
            out.clear(station, "pos")
            continue
        seen = {p.order_id for p in reported}
        missing = [s for s in sold if s.order_id not in seen]
        out.fire(
            Finding(
                station=station,
                subject="pos",
                comparison=Comparison(
                    len(reported),
                    len(sold),
                    share,
                    "% of transactions",
                    "100 × measured / expected < threshold",
                ),
                window=(ctx.start, ctx.end),
                values={
                    "transactions": len(sold),
                    "pos_sales": len(reported),
                    "records_total": len(missing),
                },
                records=[_sale_record(s) for s in missing[:MAX_RECORDS]],
            )
        )
    return out


def _sale_record(s: Sale) -> RawRecord:
    fields = {"order_id": s.order_id, "nozzle": s.nozzle, "volume": s.volume, "amount": s.amount}
    return RawRecord("dispenser_transaction", s.t, s.rid, fields)


def _pos_record(p: PosSale) -> RawRecord:
    nozzle = "" if p.nozzle is None else str(p.nozzle)
    fields = {"order_id": p.order_id, "nozzle": nozzle, "volume": p.volume, "amount": p.amount}
    return RawRecord("pos_sale", p.t, p.rid, fields)


def pos_link(ctx: RuleContext) -> Outcome:
    """经营链路: orders the dispensers recorded that the station did not push, or the reverse."""
    out = Outcome()
    min_count, min_share = ctx.number("min_missing"), ctx.number("min_missing_percent")
    end = ctx.end_ms
    edge = ctx.start_ms + int(ctx.number("edge_minutes") * 60_000)
    for station, sold, reported in _business(ctx):
        # POS rows are read past the window's end (they follow the sale); rows beyond it are
        # not asked to have their transaction in the window
        sold_ids = {s.order_id for s in sold}
        pos_ids = {p.order_id for p in reported}
        in_time = [p for p in reported if p.t <= end]
        sides: dict[str, tuple[list[RawRecord], int]] = {
            "missing_in_pos": (
                [_sale_record(s) for s in sold if s.order_id not in pos_ids and s.t > edge],
                len(sold),
            ),
            "missing_at_dispenser": (
                [_pos_record(p) for p in in_time if p.order_id not in sold_ids and p.t > edge],
                len(in_time),
            ),
        }
        for subject, (missing, total) in sides.items():
            pct = 100 * len(missing) / total if total else 0.0
            if total == 0 or len(missing) < min_count or pct < min_share:
                if total:
                    out.clear(station, subject)
                continue
            out.fire(
                Finding(
                    station=station,
                    subject=subject,
                    comparison=Comparison(
                        len(missing), 0, min_count, "orders", "measured ≥ threshold"
                    ),
                    window=(ctx.start, ctx.end),
                    values={
                        "missing": len(missing),
                        "total": total,
                        "missing_percent": round(pct, 2),
                        "volume_missing_l": round(
                            sum(float(r.fields["volume"] or 0) for r in missing), 2
                        ),
                        "amount_missing": round(
                            sum(float(r.fields["amount"] or 0) for r in missing), 2
                        ),
                        "records_total": len(missing),
                    },
                    records=missing[:MAX_RECORDS],
                )
            )
    return out


def tax_gap(ctx: RuleContext) -> Outcome:
    """控税: revenue the dispensers registered vs what the station's POS (invoicing) reported."""
    out = Outcome()
    limit, min_amount = ctx.number("gap_percent"), ctx.number("min_amount")
    end = ctx.end_ms
    for station, sold, pos in _business(ctx):
        sold_ids = {s.order_id for s in sold}
        measured = sum(float(s.amount or 0) for s in sold)
        reported = sum(float(p.amount or 0) for p in pos if p.order_id in sold_ids or p.t <= end)
        if measured < min_amount:
            continue
        gap = 100 * (measured - reported) / measured
        if gap <= limit:
            out.clear(station, "revenue")
            continue
        pos_ids = {p.order_id for p in pos}
        missing = [s for s in sold if s.order_id not in pos_ids]
        out.fire(
            Finding(
                station=station,
                subject="revenue",
                comparison=Comparison(
                    reported,
                    measured,
                    limit,
                    "yuan",
                    "100 × (expected − measured) / expected > threshold %",
                ),
                window=(ctx.start, ctx.end),
                values={
                    "dispenser_amount": round(measured, 2),
                    "pos_amount": round(reported, 2),
                    "gap_amount": round(measured - reported, 2),
                    "gap_percent": round(gap, 3),
                    "records_total": len(missing),
                },
                records=[
                    RawRecord(
                        "dispenser_transaction",
                        s.t,
                        s.rid,
                        {"order_id": s.order_id, "nozzle": s.nozzle, "amount": s.amount},
                    )
                    for s in missing[:MAX_RECORDS]
                ],
            )
        )
    return out


def price_range(ctx: RuleContext) -> Outcome:
    """经营数据: unit prices outside the permitted band around the product's reference price
    (the median price of the preceding ``reference`` query)."""
    out = Outcome()
    above, below = ctx.number("above_percent"), ctx.number("below_percent")
    reference: dict[tuple[str, str], float] = {}
    for tags, row in ctx.rows("reference"):
        if row.get("median") is not None:
            reference[(tags["station"], tags["product"])] = float(row["median"])
    recent: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for tags, row in ctx.rows("transactions"):
        recent[(tags["station"], tags["product"])].append({**tags, **row})
    for (station, product), rows in recent.items():
        ref = reference.get((station, product))
        if ref is None or station not in ctx.facts.stations:
            continue
        high, low = ref * (1 + above / 100), ref * (1 - below / 100)
        bad = [r for r in rows if not low <= float(r.get("unit_price") or 0) <= high]
        subject = f"product:{product}"
        if not bad:
            out.clear(station, subject)
            continue
        worst = max(bad, key=lambda r: abs(float(r["unit_price"]) - ref))
        out.fire(
            Finding(
                station=station,
                subject=subject,
                comparison=Comparison(
                    float(worst["unit_price"]),
                    ref,
                    above if float(worst["unit_price"]) > ref else below,
                    "yuan/L",
                    "price outside [ref × (1 − below%), ref × (1 + above%)]",
                ),
                window=(ctx.start, ctx.end),
                values={
                    "reference_price": ref,
                    "permitted_min": round(low, 3),
                    "permitted_max": round(high, 3),
                    "prices_seen": sorted({float(r["unit_price"]) for r in bad}),
                    "records_total": len(bad),
                },
                records=[
                    _rec(
                        "dispenser_transaction",
                        r,
                        "order_id",
                        "nozzle",
                        "unit_price",
                        "volume",
                        "amount",
                    )
                    for r in bad[:MAX_RECORDS]
                ],
            )
        )
    return out


def _impossible(row: dict[str, Any], tol: float, max_flow: float) -> str | None:
    volume, price, amount = (float(row.get(k) or 0) for k in ("volume", "unit_price", "amount"))
    if volume <= 0 or price <= 0 or amount < 0:
        return "non-positive value"
    if abs(amount - volume * price) > tol:
        return "amount ≠ volume × unit price"
    start, end = row.get("start"), row.get("end")
    if start is not None and end is not None:
        minutes = (int(end) - int(start)) / 60_000
        if minutes < 0:
            return "ends before it starts"
        if minutes > 0 and volume / minutes > max_flow:
            return "flow faster than a dispenser can pump"
    return None


def impossible_values(ctx: RuleContext) -> Outcome:
    out = Outcome()
    tol, max_flow = ctx.number("amount_tolerance_yuan"), ctx.number("max_flow_litres_per_minute")
    for station, rows in _by_station(ctx, "transactions").items():
        if station not in ctx.facts.stations:
            continue
        bad = [(r, why) for r in rows if (why := _impossible(r, tol, max_flow))]
        if not bad:
            out.clear(station, "transactions")
            continue
        out.fire(
            Finding(
                station=station,
                subject="transactions",
                comparison=Comparison(len(bad), 0, 0, "transactions", "measured > threshold"),
                window=(ctx.start, ctx.end),
                values={"problems": sorted({why for _, why in bad}), "records_total": len(bad)},
                records=[
                    RawRecord(
                        "dispenser_transaction",
                        int(r["time"]),
                        r.get("rid"),
                        {
                            "order_id": r.get("order_id"),
                            "problem": why,
                            "volume": r.get("volume"),
                            "unit_price": r.get("unit_price"),
                            "amount": r.get("amount"),
                        },
                    )
                    for r, why in bad[:MAX_RECORDS]
                ],
            )
        )
    return out


def order_imbalance(ctx: RuleContext) -> Outcome:
    """订单数: every dispensing cycle (a hang after fuel flowed) should have its transaction,
    recorded at the flow's end, shortly before the hang. Reads the stations' recent records
    directly (no rows built: it runs hourly over a day)."""
    out = Outcome()
    match_ms = int(ctx.number("match_seconds") * 1000)
    min_diff, min_share = ctx.number("min_difference"), ctx.number("min_difference_percent")
    start, end = ctx.start_ms, ctx.end_ms
    for st in ctx.stations():
        hangs: dict[int, list[NozzleMark]] = defaultdict(list)
        for h in in_window(st.hangs, start, end):
            if h.event == "hang" and float(h.volume or 0) > 0:
                hangs[h.nozzle].append(h)
        ends: dict[int, list[int]] = defaultdict(list)
        for s in in_window(st.sales, start, end):
            ends[s.nozzle].append(s.t)
        for nozzle in sorted(set(hangs) | set(ends)):
            cycles, txn_ends = hangs.get(nozzle, []), sorted(ends.get(nozzle, []))
            unmatched = []
            j = 0
            for h in sorted(cycles, key=lambda r: r.t):
                while j < len(txn_ends) and txn_ends[j] < h.t - match_ms:
                    j += 1
                if j < len(txn_ends) and txn_ends[j] <= h.t:
                    j += 1
                else:
                    unmatched.append(h)
            diff = len(cycles) - len(txn_ends)
            pct = 100 * abs(diff) / max(len(cycles), 1)
            subject = f"nozzle:{nozzle}"
            if abs(diff) < min_diff or pct < min_share:
                out.clear(st.station, subject)
                continue
            out.fire(
                Finding(
                    station=st.station,
                    subject=subject,
                    comparison=Comparison(
                        len(txn_ends),
                        len(cycles),
                        min_diff,
                        "orders",
                        "|measured − expected| ≥ threshold",
                    ),
                    window=(ctx.start, ctx.end),
                    values={
                        "dispensing_cycles": len(cycles),
                        "transactions": len(txn_ends),
                        "difference": diff,
                        "difference_percent": round(pct, 2),
                        "cycles_without_transaction": len(unmatched),
                        "records_total": len(unmatched),
                    },
                    records=[
                        RawRecord(
                            "nozzle_event", h.t, h.rid, {"event": h.event, "volume": h.volume}
                        )
                        for h in unmatched[:MAX_RECORDS]
                    ],
                )
            )
    return out
