"""Stations: the list with health, and one station's page (tanks, sales, reconciliation,
deliveries against waybills, transactions with totalizers).

Rows come from the API's own route functions (scope included: another station's page is a
404, exactly as in the API), sales from the supervision queries, the reconciliation from the
rule's detector; this module arranges them into a page.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api import supervision_queries as supervision
from fuelwatch.cloud.api.deps import SessionDep, StateDep, visible_station
from fuelwatch.cloud.api.routes import stations as api_stations
from fuelwatch.cloud.api.routes import supervision as api_supervision
from fuelwatch.cloud.console import station_data as data
from fuelwatch.cloud.console.charts import Band, Line, bar_chart, line_chart
from fuelwatch.cloud.console.i18n import Lang, translate
from fuelwatch.cloud.console.reconcile import DayVariance, daily_variances
from fuelwatch.cloud.console.render import LOCAL_UTC_OFFSET, local_time, page, redirect, viewer_lang
from fuelwatch.cloud.console.routes.common import (
    day_start,
    influx_problem,
    local_input,
    open_warning_counts,
    parse_local,
)
from fuelwatch.cloud.console.session import Viewer, need
from fuelwatch.cloud.store.influx import InfluxError
from fuelwatch.cloud.store.models.departments import EWaybill
from fuelwatch.cloud.store.models.warnings import Warning_
from fuelwatch.cloud.warnings.service import State
from fuelwatch.core.timeutil import utcnow

router = APIRouter()
P = Permission
StationsViewer = Annotated[Viewer, Depends(need(P.SUPERVISION_READ, P.REGISTRY_READ))]
District = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]
TXN_ROWS = 300
RECON_DAYS = 14  # the reconciliation's longest history: the rule reads every gauge reading


@router.get("/stations")
async def station_list(
    request: Request,
    session: SessionDep,
    state: StateDep,
    viewer: StationsViewer,
    district: District = None,
) -> Response:
    principal = viewer.principal
    if principal.station is not None:  # a station user's list is their own station
        return redirect(request, viewer, f"/console/stations/{quote(principal.station)}")
    district = district or None
    stations = api_stations.list_stations(session, principal, district=district, limit=1000).items
    districts = api_stations.list_districts(session, principal)
    licences = {
        s.station: s for s in api_supervision.licences(session, principal, district=district)
    }
    problem = None
    try:
        health = {
            h.station: h
            for h in await api_supervision.collection_health(
                session, state, principal, district=district
            )
        }
    except HTTPException as exc:
        health, problem = {}, influx_problem(exc)
    return page(
        request,
        viewer,
        "stations.html",
        stations=stations,
        districts=districts,
        district=district or "",
        licences=licences,
        health=health,
        warnings=open_warning_counts(session, principal),
        problem=problem,
    )


def _sales_chart(rows: list[dict[str, Any]], lang: Lang) -> tuple[Any, list[str], list[str]]:
    days = sorted({int(r["time"]) for r in rows})
    products = sorted({str(r.get("product")) for r in rows})
    by = {(int(r["time"]), str(r.get("product"))): float(r.get("volume_l") or 0) for r in rows}
    labels = [local_time(d)[5:10] for d in days]
    series = [(p, [by.get((d, p), 0.0) for d in days]) for p in products]
    chart = bar_chart(
        labels,
        series,
        title=translate(lang, "sales_by_day"),
        desc=", ".join(products),
        ident="sales",
    )
    return chart, products, labels


def _recon_charts(rows: list[DayVariance], lang: Lang) -> list[tuple[int, Any]]:
    charts = []
    for tank in sorted({r.tank for r in rows}):
        mine = [r for r in rows if r.tank == tank]
        ms = [r.day_end.timestamp() * 1000 for r in mine]
        line = Line(
            translate(lang, "variance"),
            [(t, r.variance_l20) for t, r in zip(ms, mine, strict=True)],
            dots=True,
            over=[r.over for r in mine],
        )
        band = Band(
            translate(lang, "allowance"),
            [(t, -r.allowed_l20, r.allowed_l20) for t, r in zip(ms, mine, strict=True)],
        )
        title = f"{translate(lang, 'tank')} {tank}: {translate(lang, 'variance')}"
        charts.append(
            (
                tank,
                line_chart(
                    [line], band=band, zero=True, title=title, desc=title, ident=f"rc{tank}"
                ),
            )
        )
    return charts


def _waybill_rows(
    session: SessionDep, station: str, window: data.Window, declared: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """E-waybills and the POS's declared deliveries side by side, matched by waybill number."""
    bills = session.scalars(
        select(EWaybill)
        .where(EWaybill.station_id == station)
        .where(EWaybill.arrived_at >= window.start, EWaybill.arrived_at < window.end)
        .order_by(EWaybill.arrived_at)
    ).all()
    by_no: dict[str, dict[str, Any]] = {}
    for b in bills:
        by_no[b.waybill_no] = {
            "waybill": b.waybill_no,
            "time": b.arrived_at,
            "product": b.product,
            "waybill_volume": b.volume_l,
            "declared_volume": None,
            "tank": None,
        }
    for d in declared:
        key = str(d.get("waybill_id") or "")
        row = by_no.setdefault(
            key or f"pos-{d['time']}",
            {
                "waybill": key,
                "time": d["time"],
                "product": d.get("product"),
                "waybill_volume": None,
                "declared_volume": None,
                "tank": None,
            },
        )
        row["declared_volume"] = (row["declared_volume"] or 0.0) + float(d.get("volume") or 0)
        row["tank"] = d.get("tank")
    for row in by_no.values():
        a, b = row["waybill_volume"], row["declared_volume"]
        row["difference"] = (b - a) if a is not None and b is not None else None
    return sorted(by_no.values(), key=lambda r: local_time(r["time"]))


@router.get("/stations/{station_id}")
async def station_page(
    request: Request,
    session: SessionDep,
    state: StateDep,
    viewer: StationsViewer,
    station_id: str,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
    txn_from: Annotated[str | None, Query(alias="from", max_length=32)] = None,
    txn_to: Annotated[str | None, Query(alias="to", max_length=32)] = None,
) -> Response:
    principal = viewer.principal
    station = visible_station(session, principal, station_id)  # 404 outside the scope
    info = api_stations.station_out(station, principal)
    tanks = api_stations.list_tanks(session, principal, station.id)
    lang = viewer_lang(request)
    now = utcnow()
    window = data.Window(now - timedelta(days=days), now)
    t_to = parse_local(txn_to, now)
    t_from = parse_local(txn_from, t_to - timedelta(hours=2))
    if t_from >= t_to:
        raise HTTPException(422, "the table's start must be before its end")
    txn_window = data.Window(t_from, t_to)
    scope = supervision.Scope(districts=principal.districts, station=principal.station)
    problem = None
    levels: dict[int, list[tuple[float, float]]] = {}
    latest: dict[int, dict[str, Any]] = {}
    sales_rows: list[dict[str, Any]] = []
    txns: list[dict[str, Any]] = []
    gauge: list[dict[str, Any]] = []
    declared: list[dict[str, Any]] = []
    health = None
    try:
        async with data.influx_for(state.settings) as influx:
            levels, latest, sales_rows, txns = await asyncio.gather(
                data.tank_levels(influx, station.id, window),
                data.latest_tanks(influx, station.id, window),
                supervision.sales(
                    influx,
                    scope,
                    supervision.SeriesFilter(window.start, window.end, station=station.id),
                    group_by=["product"],
                    interval="1d",
                    utc_offset_hours=LOCAL_UTC_OFFSET,
                ),
                data.transactions(influx, station.id, txn_window, limit=TXN_ROWS),
            )
            gauge, declared = await asyncio.gather(
                data.gauge_deliveries(influx, station.id, window),
                data.pos_deliveries(influx, station.id, window),
            )
        found = await api_supervision.collection_health(
            session, state, principal, district=station.district_id
        )
        health = next((h for h in found if h.station == station.id), None)
    except (InfluxError, HTTPException) as exc:
        problem = influx_problem(exc)
    declared_tanks = {tk.tank_no: tk for tk in tanks}
    tank_rows = [
        {"tank": no, "declared": declared_tanks.get(no), "latest": latest.get(no, {})}
        for no in sorted(set(declared_tanks) | set(latest))
    ]
    level_lines = [Line(f"{translate(lang, 'tank')} {k}", v) for k, v in levels.items()]
    sales_chart, products, sale_days = _sales_chart(sales_rows, lang)
    open_warnings = session.scalars(
        select(Warning_)
        .where(Warning_.station_id == station.id, Warning_.state != State.CLOSED.value)
        .order_by(Warning_.last_seen.desc())
        .limit(20)
    ).all()
    return page(
        request,
        viewer,
        "station.html",
        station=info,
        tank_rows=tank_rows,
        days=days,
        levels_chart=line_chart(
            level_lines,
            title=translate(lang, "tank_levels"),
            desc=", ".join(line.name for line in level_lines),
            ident="levels",
        ),
        level_lines=level_lines,
        sales_rows=sales_rows,
        sales_chart=sales_chart,
        products=products,
        sale_days=sale_days,
        recon_days=min(days, RECON_DAYS),
        waybills=_waybill_rows(session, station.id, window, declared),
        gauge=gauge,
        txns=txns,
        txn_limit=TXN_ROWS,
        txn_from=local_input(t_from),
        txn_to=local_input(t_to),
        health=health,
        open_warnings=open_warnings,
        problem=problem,
    )


@router.get("/stations/{station_id}/reconciliation")
async def reconciliation(
    request: Request,
    session: SessionDep,
    state: StateDep,
    viewer: StationsViewer,
    station_id: str,
    days: Annotated[int, Query(ge=1, le=RECON_DAYS)] = 7,
    fragment: bool = False,
) -> Response:
    """The reconciliation by calendar day: a page of its own, or the station page's part."""
    station = visible_station(session, viewer.principal, station_id)  # 404 outside the scope
    now = utcnow()
    windows = [
        (day_start(now, i), min(day_start(now, i - 1), now)) for i in range(days - 1, -1, -1)
    ]
    problem = None
    recon: list[DayVariance] = []
    thresholds: dict[str, Any] = {}
    try:
        async with data.influx_for(state.settings) as influx:
            recon, thresholds = await daily_variances(influx, session, station.id, windows)
    except InfluxError as exc:
        problem = influx_problem(exc)
    return page(
        request,
        viewer,
        "recon_part.html" if fragment else "reconciliation.html",
        station=api_stations.station_out(station, viewer.principal),
        days=days,
        recon=recon,
        recon_charts=_recon_charts(recon, viewer_lang(request)),
        thresholds=thresholds,
        problem=problem,
    )
