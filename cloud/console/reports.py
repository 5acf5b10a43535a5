"""Reports as tables: one ``Report`` feeds the page, the CSV and the XLSX alike, so the three
always show the same numbers (totals included).

Sales and prices are the API's supervision queries; the tax comparison puts each tax
declaration beside the metered sales of its own station, product and period.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.api import supervision_queries as supervision
from fuelwatch.cloud.console.i18n import Lang, translate
from fuelwatch.cloud.console.render import LOCAL_UTC_OFFSET, LOCAL_ZONE, local_time
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.cloud.store.models.departments import TaxDeclaration

__all__ = ["Column", "Report", "ReportQuery", "build_report", "to_csv", "to_xlsx"]

Kind = Literal["sales", "prices", "tax"]
MAX_DECLARATIONS = 200


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # an i18n key for the header
    digits: int | None = None  # None: text; else a number shown with this many decimals
    total: bool = False  # summed in the totals row


@dataclass(frozen=True, slots=True)
class ReportQuery:
    kind: Kind
    since: date
    until: date  # inclusive, a local calendar day
    group_by: Literal["station", "product", "district"] = "station"
    period: Literal["none", "1d", "7d"] = "none"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(), tzinfo=LOCAL_ZONE)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time(), tzinfo=LOCAL_ZONE)


@dataclass(slots=True)
class Report:
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)

    @property
    def totals(self) -> list[Any]:
        out: list[Any] = []
        for i, c in enumerate(self.columns):
            if c.total:
                out.append(round(sum(float(r[i] or 0) for r in self.rows), c.digits or 0))
            else:
                out.append("")
        if out and out[0] == "":
            out[0] = "total"  # replaced by the translated word when shown
        return out


def _scope(principal: Principal) -> supervision.Scope:
    return supervision.Scope(districts=principal.districts, station=principal.station)


async def _sales(influx: InfluxClient, principal: Principal, q: ReportQuery) -> Report:
    interval = None if q.period == "none" else q.period
    rows = await supervision.sales(
        influx,
        _scope(principal),
        supervision.SeriesFilter(q.start, q.end),
        group_by=[q.group_by, "product"] if q.group_by != "product" else ["product"],
        interval=interval,
        utc_offset_hours=LOCAL_UTC_OFFSET,
    )
    columns = [Column(q.group_by)]
    if q.group_by != "product":
        columns.append(Column("product"))
    if interval:
        columns.append(Column("time"))
    columns += [
        Column("volume_l", 2, total=True),
        Column("revenue", 2, total=True),
        Column("transactions", 0, total=True),
    ]
    report = Report(columns)
    for r in sorted(
        rows, key=lambda r: (str(r.get(q.group_by)), str(r.get("product")), r.get("time") or 0)
    ):
        line: list[Any] = [r.get(q.group_by) or ""]
        if q.group_by != "product":
            line.append(r.get("product") or "")
        if interval:
            line.append(local_time(r.get("time"))[:10])
        line += [
            round(float(r.get("volume_l") or 0), 2),
            round(float(r.get("revenue") or 0), 2),
            int(r.get("transactions") or 0),
        ]
        report.rows.append(line)
    return report


async def _prices(influx: InfluxClient, principal: Principal, q: ReportQuery) -> Report:
    group: list[supervision.GroupTag] = [] if q.group_by == "product" else [q.group_by]
    rows = await supervision.price_stats(
        influx, _scope(principal), supervision.SeriesFilter(q.start, q.end), group_by=group
    )
    columns = [Column("product")] + [Column(g) for g in group]
    columns += [Column(k, 2) for k in ("min", "max", "mean", "last")]
    columns.append(Column("transactions", 0, total=True))
    report = Report(columns)
    for r in sorted(rows, key=lambda r: (str(r.get("product")), *(str(r.get(g)) for g in group))):
        line: list[Any] = [r.get("product") or ""] + [r.get(g) or "" for g in group]
        line += [
            round(float(r[k]), 2) if r.get(k) is not None else None
            for k in ("min", "max", "mean", "last")
        ]
        line.append(int(r.get("transactions") or 0))
        report.rows.append(line)
    return report


async def _tax(
    influx: InfluxClient, session: Session, principal: Principal, q: ReportQuery
) -> Report:
    declarations = session.scalars(
        select(TaxDeclaration)
        .where(principal.row_filter(TaxDeclaration.station_id, TaxDeclaration.district_id))
        .where(TaxDeclaration.period_end >= q.since, TaxDeclaration.period_start <= q.until)
        .order_by(TaxDeclaration.station_id, TaxDeclaration.period_start)
        .limit(MAX_DECLARATIONS)
    ).all()

    async def measured(d: TaxDeclaration) -> tuple[float, float]:
        start = datetime.combine(d.period_start, time(), tzinfo=LOCAL_ZONE)
        end = datetime.combine(d.period_end + timedelta(days=1), time(), tzinfo=LOCAL_ZONE)
        f = supervision.SeriesFilter(start, end, station=d.station_id, product=d.product or None)
        rows = await supervision.sales(influx, _scope(principal), f, group_by=["station"])
        return (
            sum(float(r.get("volume_l") or 0) for r in rows),
            sum(float(r.get("revenue") or 0) for r in rows),
        )

    found = await asyncio.gather(*(measured(d) for d in declarations))
    report = Report(
        [
            Column("station"),
            Column("declaration"),
            Column("since"),
            Column("until"),
            Column("product"),
            Column("declared_l", 2, total=True),
            Column("measured_l", 2, total=True),
            Column("deviation", 2),
            Column("declared_rev", 2, total=True),
            Column("measured_rev", 2, total=True),
        ]
    )
    for d, (volume, revenue) in zip(declarations, found, strict=True):
        # as the declaration-deviation rule reckons it: the share of metered sales undeclared
        deviation = (volume - d.declared_volume_l) / volume * 100 if volume else None
        report.rows.append(
            [
                d.station_id,
                d.declaration_no,
                d.period_start.isoformat(),
                d.period_end.isoformat(),
                d.product or "*",
                round(d.declared_volume_l, 2),
                round(volume, 2),
                round(deviation, 2) if deviation is not None else None,
                round(d.declared_revenue, 2),
                round(revenue, 2),
            ]
        )
    return report


async def build_report(
    influx: InfluxClient, session: Session, principal: Principal, q: ReportQuery
) -> Report:
    if q.kind == "sales":
        return await _sales(influx, principal, q)
    if q.kind == "prices":
        return await _prices(influx, principal, q)
    return await _tax(influx, session, principal, q)


def _header(report: Report, lang: Lang) -> list[str]:
    return [translate(lang, c.key) for c in report.columns]


def _totals(report: Report, lang: Lang) -> list[Any]:
    totals = report.totals
    if totals and totals[0] == "total":
        totals[0] = translate(lang, "total")
    return totals


def to_csv(report: Report, lang: Lang) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_header(report, lang))
    writer.writerows(["" if v is None else v for v in row] for row in report.rows)
    writer.writerow(_totals(report, lang))
    return out.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 CSV right with the BOM


def to_xlsx(report: Report, lang: Lang, title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has its sheet
    sheet.title = title[:31]
    sheet.append(_header(report, lang))
    for row in report.rows:
        sheet.append(row)
    sheet.append(_totals(report, lang))
    for i, c in enumerate(report.columns, start=1):
        if c.digits is not None:
            fmt = "#,##0" if c.digits == 0 else "#,##0." + "0" * c.digits
            for cells in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                cells[0].number_format = fmt
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
