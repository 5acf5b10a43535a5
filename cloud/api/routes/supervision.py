"""Industry supervision views: sales, prices, licence status, data-collection health."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api import supervision_queries as supervision
from fuelwatch.cloud.api.deps import SessionDep, StateDep, allow, zone
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError
from fuelwatch.cloud.store.models.departments import Licence
from fuelwatch.cloud.store.models.registry import Station
from fuelwatch.core.timeutil import utcnow

router = APIRouter(prefix="/supervision", tags=["supervision"])
Reader = Annotated[Principal, Depends(allow(Permission.SUPERVISION_READ))]
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # InfluxDB keeps nanoseconds in 64 bits
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
REQUIRED_LICENCES = ("hazardous_chemicals", "fuel_retail", "business")
Tag = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9#_+-]+$")]


class SalesRow(BaseModel):
    district: str | None = None
    station: str | None = None
    product: str | None = None
    time: int | None = Field(default=None, description="period start, ms since epoch")
    volume_l: float | None
    revenue: float | None
    transactions: int


class PriceRow(BaseModel):
    product: str
    district: str | None = None
    station: str | None = None
    min: float | None
    max: float | None
    mean: float | None
    last: float | None
    transactions: int


class LicenceState(BaseModel):
    kind: str
    state: Literal["valid", "expiring", "expired", "missing", "suspended", "revoked"]
    licence_no: str | None
    valid_until: date | None


class StationLicences(BaseModel):
    station: str
    district: str
    name: str
    unlicensed: bool = Field(
        description="黑户: a required licence is missing, expired or withdrawn"
    )
    expiring: bool
    licences: list[LicenceState]


class GatewayHealth(BaseModel):
    gateway: str
    last_seen: int | None = Field(description="ms since epoch")
    state: str | None
    spool_backlog: int | None
    spool_oldest: int | None
    spool_dropped: int | None
    publish_errors: int | None
    devices: str | None
    version: str | None


class StationHealth(BaseModel):
    station: str
    district: str
    last_seen: int | None = Field(description="newest gateway status, ms since epoch")
    online: bool
    gap_buckets: int = Field(description="buckets in the window without any gateway status")
    spool_backlog: int
    rejected: dict[str, int] = Field(description="rejected messages in the window, by reason")
    gateways: list[GatewayHealth]


def _window(
    since: datetime | None, until: datetime | None, default: timedelta
) -> tuple[datetime, datetime]:
    end = until or utcnow()
    start = since or end - default
    if start < EARLIEST or end > LATEST:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "times must lie between 1970 and 2100"
        )
    if start >= end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "since must be before until")
    if end - start > timedelta(days=3660):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most ten years at once")
    return start, end


def _scope(principal: Principal) -> supervision.Scope:
    return supervision.Scope(districts=principal.districts, station=principal.station)


async def _run(state: StateDep, fn: Any, *args: Any, **kwargs: Any) -> Any:
    s = state.settings
    async with InfluxClient(
        s.influx_url, s.influx_db, username=s.influx_username, password=s.influx_password
    ) as influx:
        try:
            return await fn(influx, *args, **kwargs)
        except InfluxError as exc:
            if "database not found" in str(exc):
                return [] if fn is not supervision.collection_health else {}
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"InfluxDB: {exc}") from exc


@router.get("/sales", summary="Sales volume and revenue by district/station/product and period")
async def sales(
    state: StateDep,
    principal: Reader,
    group_by: Annotated[list[supervision.GroupTag] | None, Query()] = None,
    interval: supervision.Interval | None = None,
    source: Literal["dispenser", "pos"] = "dispenser",
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    district: Tag = None,
    station: Tag = None,
    product: Tag = None,
) -> list[SalesRow]:
    start, end = _window(since, until, timedelta(days=1))
    f = supervision.SeriesFilter(start, end, district, station, product)
    rows = await _run(
        state,
        supervision.sales,
        _scope(principal),
        f,
        group_by=group_by or ["station"],
        interval=interval,
        source=source,
    )
    return [SalesRow(**{k: v for k, v in r.items() if k in SalesRow.model_fields}) for r in rows]


@router.get("/prices", summary="Unit price statistics per product")
async def prices(
    state: StateDep,
    principal: Reader,
    group_by: Annotated[list[Literal["district", "station"]] | None, Query()] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    district: Tag = None,
    station: Tag = None,
    product: Tag = None,
) -> list[PriceRow]:
    start, end = _window(since, until, timedelta(days=1))
    f = supervision.SeriesFilter(start, end, district, station, product)
    rows = await _run(
        state, supervision.price_stats, _scope(principal), f, group_by=list(group_by or [])
    )
    return [PriceRow(**{k: v for k, v in r.items() if k in PriceRow.model_fields}) for r in rows]


def _visible_stations(
    session: SessionDep, principal: Principal, district: str | None
) -> list[Station]:
    stmt = select(Station).where(principal.row_filter(Station.id, Station.district_id))
    if district is not None:
        stmt = stmt.where(Station.district_id == district)
    return list(session.scalars(stmt.order_by(Station.id)))


def _licence_state(rows: list[Licence], today: date, within: int) -> LicenceState | None:
    if not rows:
        return None
    best = max(rows, key=lambda r: (r.status == "valid", r.valid_until))
    if best.status != "valid":
        state: Any = best.status
    elif best.valid_until < today:
        state = "expired"
    elif best.valid_until <= today + timedelta(days=within):
        state = "expiring"
    else:
        state = "valid"
    return LicenceState(
        kind=best.kind, state=state, licence_no=best.licence_no, valid_until=best.valid_until
    )


@router.get("/licences", summary="Licence status per station: expired, expiring, missing (黑户)")
def licences(
    session: SessionDep,
    principal: Reader,
    district: Tag = None,
    within_days: Annotated[int, Query(ge=0, le=365, description="expiring: valid for less")] = 30,
    tz: Annotated[
        str, Query(max_length=64, description="zone whose calendar day is today")
    ] = "Asia/Shanghai",
    only: Annotated[
        Literal["unlicensed", "expiring"] | None, Query(description="only stations that are ...")
    ] = None,
) -> list[StationLicences]:
    stations = _visible_stations(session, principal, district)
    by_station: dict[str, list[Licence]] = {}
    ids = [s.id for s in stations]
    for i in range(0, len(ids), 500):
        for lic in session.scalars(select(Licence).where(Licence.station_id.in_(ids[i : i + 500]))):
            by_station.setdefault(lic.station_id, []).append(lic)
    today = datetime.now(zone(tz)).date()
    out: list[StationLicences] = []
    for s in stations:
        states = []
        for kind in REQUIRED_LICENCES:
            found = _licence_state(
                [r for r in by_station.get(s.id, []) if r.kind == kind], today, within_days
            )
            states.append(
                found or LicenceState(kind=kind, state="missing", licence_no=None, valid_until=None)
            )
        unlicensed = any(x.state not in ("valid", "expiring") for x in states)
        expiring = any(x.state == "expiring" for x in states)
        if (only == "unlicensed" and not unlicensed) or (only == "expiring" and not expiring):
            continue
        out.append(
            StationLicences(
                station=s.id,
                district=s.district_id,
                name=s.name,
                unlicensed=unlicensed,
                expiring=expiring,
                licences=states,
            )
        )
    return out


@router.get("/collection-health", summary="Per station: last seen, gaps, spool backlog, rejects")
async def collection_health(
    session: SessionDep,
    state: StateDep,
    principal: Reader,
    district: Tag = None,
    hours: Annotated[int, Query(ge=1, le=24 * 31, description="window, hours")] = 24,
    bucket_minutes: Annotated[int, Query(ge=1, le=1440)] = 10,
    offline_after_minutes: Annotated[int, Query(ge=1, le=1440)] = 5,
) -> list[StationHealth]:
    stations = await run_in_threadpool(_visible_stations, session, principal, district)
    end = utcnow()
    f = supervision.SeriesFilter(end - timedelta(hours=hours), end, district=district)
    found: dict[str, dict[str, Any]] = await _run(
        state, supervision.collection_health, _scope(principal), f, bucket_minutes=bucket_minutes
    )
    cutoff = (end - timedelta(minutes=offline_after_minutes)).timestamp() * 1000
    out = []
    for s in stations:
        entry = found.get(
            s.id, {"gateways": [], "gap_buckets": hours * 60 // bucket_minutes, "rejected": {}}
        )
        gateways = [GatewayHealth(**g) for g in entry["gateways"]]
        seen = [g.last_seen for g in gateways if g.last_seen is not None]
        last = max(seen) if seen else None
        out.append(
            StationHealth(
                station=s.id,
                district=s.district_id,
                last_seen=last,
                online=any(
                    g.state == "online" and g.last_seen is not None and g.last_seen >= cutoff
                    for g in gateways
                ),
                gap_buckets=entry["gap_buckets"],
                spool_backlog=sum(g.spool_backlog or 0 for g in gateways),
                rejected={k: int(v) for k, v in entry["rejected"].items()},
                gateways=gateways,
            )
        )
    return out
