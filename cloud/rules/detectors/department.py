"""Rules on department data: inspection/metrology risk and tax declarations vs measured sales.

Dates in department data are local calendar days (``options.timezone``, default Asia/Shanghai).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from fuelwatch.cloud.rules.context import Comparison, Finding, Outcome, RuleContext
from fuelwatch.cloud.store.models.departments import Inspection, MetrologyRecord, TaxDeclaration

__all__ = ["declaration_deviation", "inspection_risk"]


def _zone(ctx: RuleContext) -> ZoneInfo:
    return ZoneInfo(str(ctx.options.get("timezone", "Asia/Shanghai")))


def _day(dt: datetime, zone: ZoneInfo) -> date:
    return dt.astimezone(zone).date()


def inspection_risk(ctx: RuleContext) -> Outcome:
    """Metrology verification expired or failed, a seal found broken, an inspection that
    failed with its rectification overdue, or no inspection for too long."""
    out = Outcome()
    zone = _zone(ctx)
    today = _day(ctx.now, zone)
    grace = int(ctx.number("grace_days"))
    max_age = int(ctx.number("max_days_since_inspection"))
    stations = list(ctx.facts.stations)
    latest: dict[tuple[str, str, int | None], MetrologyRecord] = {}
    for m in ctx.session.scalars(
        select(MetrologyRecord)
        .where(MetrologyRecord.station_id.in_(stations), MetrologyRecord.performed_at <= ctx.now)
        .order_by(MetrologyRecord.performed_at)
    ):
        latest[(m.station_id, m.record_type, m.nozzle_no)] = m
    for (station, kind, nozzle), m in latest.items():
        subject = f"nozzle:{nozzle}:{kind}" if nozzle is not None else f"station:{kind}"
        problem, overdue = None, 0
        if kind == "verification":
            if m.result == "fail":
                problem = "verification failed"
            elif m.valid_until is not None and (today - m.valid_until).days > grace:
                problem, overdue = "verification expired", (today - m.valid_until).days
        elif kind == "seal" and m.seal_state == "broken":
            problem = "seal broken"
        if problem is None:
            out.clear(station, subject)
            continue
        out.fire(_finding(ctx, station, subject, problem, overdue, grace, _metrology(m)))
    inspections: dict[str, list[Inspection]] = defaultdict(list)
    for i in ctx.session.scalars(
        select(Inspection)
        .where(Inspection.station_id.in_(stations), Inspection.inspected_at <= ctx.now)
        .order_by(Inspection.inspected_at)
    ):
        inspections[i.station_id].append(i)
    for station, rows in inspections.items():
        last = rows[-1]
        age = (today - _day(last.inspected_at, zone)).days
        subject = "inspection"
        problem, overdue = None, 0
        if last.result in ("fail", "issues") and last.rectification_due is not None:
            late = (today - last.rectification_due).days
            if late > grace:
                problem, overdue = f"inspection {last.result}, rectification overdue", late
        if problem is None and last.result == "fail":
            problem = "inspection failed"
        if problem is None and age > max_age:
            problem, overdue = "no inspection within the required interval", age - max_age
        if problem is None:
            out.clear(station, subject)
            continue
        detail = {
            "inspection_no": last.inspection_no,
            "inspected_at": last.inspected_at.isoformat(),
            "result": last.result,
            "findings": last.findings,
            "rectification_due": last.rectification_due.isoformat()
            if last.rectification_due
            else None,
            "department": last.department,
        }
        out.fire(_finding(ctx, station, subject, problem, overdue, grace, detail))
    return out


def _metrology(m: MetrologyRecord) -> dict[str, Any]:
    return {
        "record_no": m.record_no,
        "record_type": m.record_type,
        "dispenser_no": m.dispenser_no,
        "nozzle_no": m.nozzle_no,
        "performed_at": m.performed_at.isoformat(),
        "valid_until": m.valid_until.isoformat() if m.valid_until else None,
        "result": m.result,
        "seal_no": m.seal_no,
        "seal_state": m.seal_state,
        "department": m.department,
    }


def _finding(
    ctx: RuleContext,
    station: str,
    subject: str,
    problem: str,
    overdue: int,
    grace: int,
    detail: dict[str, Any],
) -> Finding:
    return Finding(
        station=station,
        subject=subject,
        comparison=Comparison(
            overdue, 0, grace, "days", "problem found (days overdue > grace days)"
        ),
        window=(ctx.start, ctx.end),
        values={"problem": problem, "department_record": detail},
    )


def declaration_deviation(ctx: RuleContext) -> Outcome:
    """Declared sales volume of each complete declaration period vs the dispensers' sales."""
    out = Outcome()
    zone = _zone(ctx)
    today = _day(ctx.now, zone)
    first_day = _day(ctx.start, zone)
    limit, min_volume = ctx.number("deviation_percent"), ctx.number("min_volume_litres")
    daily: dict[tuple[str, str, date], tuple[float, float]] = {}
    for tags, row in ctx.rows("daily_sales"):
        if row.get("volume") is None:
            continue
        day = datetime.fromtimestamp(int(row["time"]) / 1000, zone).date()
        daily[(tags["station"], tags.get("product", ""), day)] = (
            float(row["volume"]),
            float(row.get("amount") or 0),
        )
    for d in ctx.session.scalars(
        select(TaxDeclaration).where(
            TaxDeclaration.station_id.in_(list(ctx.facts.stations)),
            TaxDeclaration.period_end < today,
            TaxDeclaration.period_start >= first_day,
        )
    ):
        days = {
            d.period_start + timedelta(days=i)
            for i in range((d.period_end - d.period_start).days + 1)
        }
        measured = amount = 0.0
        for (station, product, day), (v, a) in daily.items():
            if station == d.station_id and day in days and d.product in ("", product):
                measured += v
                amount += a
        subject = f"declaration:{d.declaration_no or d.record_key}"[:128]
        if measured < min_volume:
            continue
        deviation = 100 * (measured - d.declared_volume_l) / measured
        if deviation <= limit:
            out.clear(d.station_id, subject)
            continue
        out.fire(
            Finding(
                station=d.station_id,
                subject=subject,
                comparison=Comparison(
                    d.declared_volume_l,
                    measured,
                    limit,
                    "L",
                    "100 × (expected − measured) / expected > threshold %",
                ),
                window=(ctx.start, ctx.end),
                values={
                    "period": [d.period_start.isoformat(), d.period_end.isoformat()],
                    "product": d.product or "all",
                    "declared_volume_l": d.declared_volume_l,
                    "measured_volume_l": round(measured, 2),
                    "undeclared_volume_l": round(measured - d.declared_volume_l, 2),
                    "deviation_percent": round(deviation, 3),
                    "declared_revenue": d.declared_revenue,
                    "measured_revenue": round(amount, 2),
                    "declaration_no": d.declaration_no,
                    "department": d.department,
                },
            )
        )
    return out
