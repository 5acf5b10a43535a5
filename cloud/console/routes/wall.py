"""The wall view (大屏) for the operations centre: totals that refresh by themselves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api import supervision_queries as supervision
from fuelwatch.cloud.api.deps import SessionDep, StateDep
from fuelwatch.cloud.api.routes import stations as api_stations
from fuelwatch.cloud.api.routes import supervision as api_supervision
from fuelwatch.cloud.api.routes import warnings as api_warnings
from fuelwatch.cloud.common.categories import Severity
from fuelwatch.cloud.console.charts import bar_chart
from fuelwatch.cloud.console.i18n import translate
from fuelwatch.cloud.console.render import local_time, page, viewer_lang
from fuelwatch.cloud.console.routes.common import day_start, influx_problem, open_warning_counts
from fuelwatch.cloud.console.session import Viewer, need
from fuelwatch.cloud.console.station_data import influx_for
from fuelwatch.cloud.store.influx import InfluxError
from fuelwatch.cloud.warnings.service import State
from fuelwatch.core.timeutil import utcnow

router = APIRouter()
P = Permission
WallViewer = Annotated[Viewer, Depends(need(P.SUPERVISION_READ, P.WARNING_READ))]
REFRESH_SECONDS = 30


@router.get("/wall")
async def wall(
    request: Request, session: SessionDep, state: StateDep, viewer: WallViewer
) -> Response:
    principal = viewer.principal
    lang = viewer_lang(request)
    now = utcnow()
    stations = api_stations.list_stations(session, principal, limit=1000).items
    counts = open_warning_counts(session, principal)
    by_severity = {s.value: sum(c.get(s.value, 0) for c in counts.values()) for s in Severity}
    latest = api_warnings.list_warnings(
        session, principal, state=[s for s in State if s is not State.CLOSED], limit=12
    ).items
    problem = None
    health: list[Any] = []
    hourly: list[dict[str, Any]] = []
    by_product: list[dict[str, Any]] = []
    try:
        health = await api_supervision.collection_health(session, state, principal)
        async with influx_for(state.settings) as influx:
            scope = supervision.Scope(districts=principal.districts, station=principal.station)
            f = supervision.SeriesFilter(day_start(now), now)
            hourly = await supervision.sales(influx, scope, f, group_by=[], interval="1h")
            by_product = await supervision.sales(influx, scope, f, group_by=["product"])
    except (HTTPException, InfluxError) as exc:
        problem = influx_problem(exc)
    offline = [h for h in health if not h.online]
    hourly.sort(key=lambda r: r.get("time") or 0)
    chart = bar_chart(
        [local_time(r.get("time"))[11:13] for r in hourly],
        [(translate(lang, "volume_l"), [float(r.get("volume_l") or 0) for r in hourly])],
        title=translate(lang, "today_sales"),
        desc=translate(lang, "today_sales"),
        ident="hourly",
    )
    return page(
        request,
        viewer,
        "wall.html",
        refresh=REFRESH_SECONDS,
        stations=stations,
        online=len(health) - len(offline),
        offline=offline,
        by_severity=by_severity,
        open_total=sum(by_severity.values()),
        latest=latest,
        volume=sum(float(r.get("volume_l") or 0) for r in by_product),
        revenue=sum(float(r.get("revenue") or 0) for r in by_product),
        by_product=sorted(by_product, key=lambda r: str(r.get("product"))),
        hourly_chart=chart if hourly else None,
        updated=local_time(now, seconds=True),
        problem=problem,
    )
