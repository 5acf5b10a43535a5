"""Reports on screen and as CSV and XLSX downloads, from one ``Report`` each."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api.deps import SessionDep, StateDep
from fuelwatch.cloud.console import reports
from fuelwatch.cloud.console.i18n import translate
from fuelwatch.cloud.console.render import LOCAL_ZONE, finish, page, viewer_lang
from fuelwatch.cloud.console.routes.common import influx_problem
from fuelwatch.cloud.console.session import Viewer, need
from fuelwatch.cloud.console.station_data import influx_for
from fuelwatch.cloud.store.influx import InfluxError
from fuelwatch.core.timeutil import utcnow

router = APIRouter()
Reader = Annotated[Viewer, Depends(need(Permission.SUPERVISION_READ))]
TITLES = {"sales": "rep_sales", "prices": "rep_prices", "tax": "rep_tax"}
TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/reports")
async def report_page(
    request: Request,
    session: SessionDep,
    state: StateDep,
    viewer: Reader,
    kind: reports.Kind = "sales",
    since: date | None = None,
    until: date | None = None,
    group_by: Literal["station", "product", "district"] = "station",
    period: Literal["none", "1d", "7d"] = "none",
    fmt: Annotated[Literal["html", "csv", "xlsx"], Query(alias="format")] = "html",
) -> Response:
    today = utcnow().astimezone(LOCAL_ZONE).date()
    until = until or today
    since = since or until - timedelta(days=6)
    if since > until or (until - since).days > 366:
        raise HTTPException(422, "choose a start on or before the end, at most a year apart")
    q = reports.ReportQuery(kind, since, until, group_by, period)
    lang = viewer_lang(request)
    problem = None
    report = reports.Report([])
    try:
        async with influx_for(state.settings) as influx:
            report = await reports.build_report(influx, session, viewer.principal, q)
    except InfluxError as exc:
        if fmt != "html":
            raise HTTPException(503, f"InfluxDB: {exc}") from exc
        problem = influx_problem(exc)
    if fmt != "html":
        title = translate(lang, TITLES[kind])
        body = (
            reports.to_csv(report, lang) if fmt == "csv" else reports.to_xlsx(report, lang, title)
        )
        response = Response(body, media_type=TYPES[fmt])
        name = f"fuelwatch-{kind}-{since.isoformat()}-{until.isoformat()}.{fmt}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        finish(request, viewer, response)
        return response
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "format"])
    return page(
        request,
        viewer,
        "reports.html",
        q=q,
        report=report,
        title_key=TITLES[kind],
        problem=problem,
        download=f"/console/reports?{query}&format=" if query else "/console/reports?format=",
    )
