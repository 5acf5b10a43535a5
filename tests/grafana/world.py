"""Three simulated stations over the last three days, in a real InfluxDB and PostgreSQL.

    binhai: BH0001 (honest), BH0002 (92 priced high, declares 70 % of its sales to tax)
    heping: HP0001 (gateway silent for 30 minutes two days ago)

InfluxDB gets the simulator's gateway feed through ingest's own line-protocol mapping
(``record_line``), as ingest would store it. What the simulator does not make is written as
its producer would: gateway status every 60 s, ingest_stats, a few rejections, and
``warning_event`` points in the rule engine's contract (the engine is not merged yet).

The registry (PostgreSQL) is filled through the management API (districts, stations with
coordinates, department data imports) and the warning service (warnings and transitions).
"""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi.testclient import TestClient

from fuelwatch.cloud.accounts.service import create_user
from fuelwatch.cloud.api.app import create_app
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.cloud.store.lineproto import record_line, write_line
from fuelwatch.cloud.store.models.warnings import Warning_
from fuelwatch.cloud.warnings.service import transition, upsert_warning
from fuelwatch.core.records import (
    BaseRecord,
    GatewayStatusRecord,
    InventoryRecord,
    TransactionRecord,
)
from fuelwatch.sim.events import StationEvent, WaybillEvent
from fuelwatch.sim.offline import gateway_records
from fuelwatch.sim.scenario import parse_scenario
from fuelwatch.sim.station import Station
from tests.api.conftest import make_settings
from tests.api.world import bearer
from tests.sim.factory import data
from tests.support.services import Influx

LOCAL = ZoneInfo("Asia/Shanghai")
DISTRICTS = {"binhai": "滨海新区", "heping": "和平区"}


@dataclass(frozen=True)
class StationDef:
    id: str
    district: str
    name: str
    lat: float
    lon: float
    declared_share: float = 1.0
    scenario: dict[str, Any] = field(default_factory=dict)


STATIONS = (
    StationDef("BH0001", "binhai", "滨海第一加油站", 39.02, 117.71),
    StationDef(
        "BH0002",
        "binhai",
        "滨海第二加油站",
        39.05,
        117.68,
        declared_share=0.7,
        scenario={
            "products": {
                "92": {"kind": "gasoline", "tls_code": "1", "price": 8.2, "price_max": 8.5},
                "0": {"kind": "diesel", "tls_code": "4", "price": 7.21},
            }
        },
    ),
    StationDef("HP0001", "heping", "和平第一加油站", 39.12, 117.20),
)
OPEN_WARNINGS = {"BH0001": 0, "BH0002": 2, "HP0001": 1}
UNLICENSED = {"BH0002", "HP0001"}  # an expired and a missing licence
GAP_STATION = "HP0001"
OFFLINE_GATEWAY_STATION = "BH0002"  # its last status is the Will: offline


@dataclass
class World:
    db: str
    registry_url: str
    start: datetime
    end: datetime
    transactions: int = 0
    records: int = 0
    waybills: int = 0
    sales_by_day: dict[tuple[str, date], float] = field(default_factory=dict)
    unloading: list[tuple[int, int]] = field(default_factory=list)  # ms windows, all stations

    @property
    def quiet_end(self) -> datetime:
        """The end of the range for the dashboards: ``end``, or earlier if a tanker was
        unloading then (its gauge rise would be in the range, the POS declaration not yet).
        """
        end = _ms(self.end)
        for start, stop in sorted(self.unloading, reverse=True):
            if start <= end <= stop:
                end = start - 60_000
        return datetime.fromtimestamp(end / 1000, UTC)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _write(influx: Influx, db: str, lines: list[str]) -> None:
    for i in range(0, len(lines), 5000):
        httpx.post(
            f"{influx.url}/write",
            params={"db": db, "precision": "ns"},
            content="\n".join(lines[i : i + 5000]),
            timeout=60,
        ).raise_for_status()


def _unloading(readings: list[InventoryRecord]) -> list[tuple[int, int]]:
    """Windows in which a tank's gauge volume rose (a delivery), widened by the gauge's
    settling time and a POS push interval."""
    windows: list[tuple[int, int]] = []
    last: dict[int, InventoryRecord] = {}
    for r in readings:
        before = last.get(r.tank)
        last[r.tank] = r
        if before is None or r.volume - before.volume < 20:
            continue
        if windows and before.ts <= windows[-1][1]:
            windows[-1] = (windows[-1][0], r.ts + 12 * 60_000)
        else:
            windows.append((before.ts, r.ts + 12 * 60_000))
    return windows


def _simulate(
    s: StationDef, start: datetime, seed: int
) -> tuple[list[str], list[Any], list[Any], list[tuple[int, int]]]:
    scenario = parse_scenario(
        data(
            station={"id": s.id, "name": s.name, "district": s.district},
            seed=seed,
            start=start.astimezone(LOCAL).isoformat(),
            duration="3d",
            **s.scenario,
        )
    )
    waybills: list[Any] = []

    def on_events(events: list[StationEvent]) -> None:
        waybills.extend(e.waybill for e in events if isinstance(e, WaybillEvent))

    lines: list[str] = []
    sales: list[TransactionRecord] = []
    readings: list[InventoryRecord] = []
    for rid, (device, record) in enumerate(
        gateway_records(Station(scenario), on_events=on_events), start=1
    ):
        rec: BaseRecord = record.model_copy(update={"rid": rid})
        if isinstance(rec, TransactionRecord):
            sales.append(rec)
        elif isinstance(rec, InventoryRecord):
            readings.append(rec)
        lines.append(record_line(rec, district=s.district, station=s.id, device=device))
    return lines, sales, waybills, _unloading(readings)


def _status_lines(start: datetime, end: datetime) -> list[str]:
    """A status a minute per gateway over the range, with a 30-minute gap for GAP_STATION."""
    lines: list[str] = []
    gap_from, gap_to = end - timedelta(days=2), end - timedelta(days=2) + timedelta(minutes=30)
    for i, s in enumerate(STATIONS):
        t, rid = start, 10_000_000 + i * 100_000
        while t < end:
            if not (s.id == GAP_STATION and gap_from <= t < gap_to):
                rid += 1
                lines.append(_status(s, rid, t, online=True))
            t += timedelta(seconds=60)
    return lines


def _status(s: StationDef, rid: int, t: datetime, *, online: bool) -> str:
    rec = GatewayStatusRecord(
        rid=rid,
        ts=_ms(t),
        state="online" if online else "offline",
        boot=_ms(t) - 3_600_000,
        version="0.1.0",
        spool_backlog=(rid * 7) % 40,
        spool_dropped=0,
        publish_errors=0,
    )
    return record_line(rec, district=s.district, station=s.id, device=f"gw-{s.id}")


def _latest_status_lines() -> list[str]:
    """Each gateway's latest word, just now (the online panel looks at the last 3 minutes
    of real time): OFFLINE_GATEWAY_STATION's Will has fired."""
    now = datetime.now(UTC)
    return [
        _status(s, 20_000_000 + i, now, online=s.id != OFFLINE_GATEWAY_STATION)
        for i, s in enumerate(STATIONS)
    ]


def _ops_lines(start: datetime, end: datetime) -> list[str]:
    lines: list[str] = []
    for w, worker in enumerate(("ingest-1", "ingest-2")):
        t, accepted = start, 0
        while t <= end:
            accepted += 400 + 30 * w
            fields = {
                "received": accepted // 50,
                "accepted_records": accepted,
                "duplicates": 0,
                "rejected": 1,
                "latency_p50_ms": 40.0,
                "latency_p99_ms": 180.0 + 10 * w,
            }
            lines.append(write_line("ingest_stats", {"worker": worker}, fields, _ms(t) * 10**6))
            t += timedelta(minutes=1)
    for i, reason in enumerate(("bad_signature", "replayed", "bad_signature")):
        at = end - timedelta(hours=5 + i)
        lines.append(
            write_line(
                "rejected",
                {"reason": reason, "district": "binhai", "station": "BH0001"},
                {"topic": "fuel/v1/binhai/BH0001/atg1/inventory", "size": 512, "seq": 100 + i},
                _ms(at) * 10**6,
            )
        )
    return lines


@dataclass(frozen=True)
class WarningDef:
    station: str
    rule: str
    category: str
    severity: str
    subject: str
    title_zh: str
    title_en: str
    value: float
    hours_ago: float
    actions: tuple[str, ...] = ()


WARNINGS = (
    WarningDef(
        "BH0002",
        "declared_vs_measured",
        "declaration_deviation",
        "high",
        "station",
        "申报销量低于实测30%",
        "Declared sales 30% below measured",
        -30.0,
        30,
    ),
    WarningDef(
        "BH0002",
        "daily_variance",
        "inventory_reconciliation",
        "medium",
        "tank:1",
        "1号罐日差异超限",
        "Tank 1 daily variance beyond band",
        -61.5,
        50,
        ("acknowledge",),
    ),
    WarningDef(
        "HP0001",
        "gateway_silent",
        "business_link",
        "low",
        "gateway:gw-HP0001",
        "网关30分钟无上报",
        "Gateway silent for 30 minutes",
        30.0,
        47,
    ),
    WarningDef(
        "BH0001",
        "totalizer_jump",
        "totalizer_tampering",
        "critical",
        "nozzle:3",
        "3号枪泵码跳变",
        "Nozzle 3 totalizer jump",
        12.0,
        20,
        ("acknowledge", "close"),
    ),
)


def _warnings(sessions: Any, end: datetime) -> list[str]:
    district = {s.id: s.district for s in STATIONS}
    lines: list[str] = []
    with sessions.begin() as session:
        for w in WARNINGS:
            seen = end - timedelta(hours=w.hours_ago)
            warning: Warning_ = upsert_warning(
                session,
                rule_id=w.rule,
                category=w.category,
                severity=w.severity,
                station=w.station,
                subject=w.subject,
                title_zh=w.title_zh,
                title_en=w.title_en,
                evidence={"value": w.value},
                seen_at=seen,
            ).warning
            session.flush()
            states = [("open", seen)]
            for n, action in enumerate(w.actions, start=1):
                event = transition(session, warning, action, actor="officer", note="核实")
                states.append((event.to_state, seen + timedelta(hours=n)))
            for state, at in states:
                tags = {
                    "district": district[w.station],
                    "station": w.station,
                    "category": w.category,
                    "severity": w.severity,
                    "rule": w.rule,
                }
                fields = {
                    "warning_id": warning.id,
                    "state": state,
                    "title_zh": w.title_zh,
                    "title_en": w.title_en,
                    "value": w.value,
                }
                lines.append(write_line("warning_event", tags, fields, _ms(at) * 10**6))
    return lines


def _department_rows(
    world: World, waybills: list[Any], today: date
) -> dict[str, list[dict[str, Any]]]:
    far, year_ago = today + timedelta(days=700), today - timedelta(days=365)
    licences: list[dict[str, Any]] = []
    for s in STATIONS:
        for kind in ("hazardous_chemicals", "fuel_retail", "business"):
            until = far
            if s.id == "BH0002" and kind == "fuel_retail":
                until = today - timedelta(days=1)  # expired
            if s.id == "HP0001" and kind == "business":
                continue  # missing
            if s.id == "HP0001" and kind == "fuel_retail":
                until = today + timedelta(days=10)  # expiring, still valid
            licences.append(
                {
                    "station": s.id,
                    "kind": kind,
                    "licence_no": f"{kind[:3].upper()}-{s.id}",
                    "holder": s.name,
                    "valid_from": year_ago.isoformat(),
                    "valid_until": until.isoformat(),
                }
            )
    declarations = [
        {
            "station": station,
            "period_start": day.isoformat(),
            "period_end": day.isoformat(),
            "declared_volume_l": round(litres * share, 1),
            "declared_revenue": round(litres * share * 7.5, 2),
            "declaration_no": f"SB-{station}-{day:%Y%m%d}",
        }
        for (station, day), litres in sorted(world.sales_by_day.items())
        for share in [next(s.declared_share for s in STATIONS if s.id == station)]
        if world.start.astimezone(LOCAL).date() < day < world.end.astimezone(LOCAL).date()
    ]
    ewaybills = [{**w.as_ewaybill(), "driver_name": "赵六", "origin": "大港油库"} for w in waybills]
    performed = world.end - timedelta(days=1)
    metrology = [
        {
            "station": "BH0001",
            "record_type": "seal",
            "record_no": "QF-0001",
            "dispenser_no": 2,
            "performed_at": performed.isoformat(),
            "seal_no": "Q-77812",
            "seal_state": "broken",
            "inspector_name": "李四",
        },
        {
            "station": "HP0001",
            "record_type": "verification",
            "record_no": "JD-0002",
            "dispenser_no": 1,
            "nozzle_no": 1,
            "performed_at": (performed - timedelta(days=1)).isoformat(),
            "result": "fail",
            "error_percent": 0.62,
        },
        {
            "station": "BH0002",
            "record_type": "verification",
            "record_no": "JD-0003",
            "dispenser_no": 1,
            "nozzle_no": 2,
            "performed_at": performed.isoformat(),
            "result": "pass",
            "error_percent": 0.08,
        },
    ]
    return {
        "licences": licences,
        "tax_declarations": declarations,
        "ewaybills": ewaybills,
        "metrology": metrology,
    }


@contextlib.contextmanager
def build_world(
    influx: Influx, registry_url: str, tmp: Path, *, end: datetime | None = None
) -> Iterator[World]:
    """``end``: the end of the three simulated days (default: now)."""
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=3)
    world = World(
        db=f"grafana{uuid.uuid4().hex[:8]}", registry_url=registry_url, start=start, end=end
    )
    httpx.post(
        f"{influx.url}/query", data={"q": f'CREATE DATABASE "{world.db}"'}
    ).raise_for_status()

    lines: list[str] = []
    waybills: list[Any] = []
    sales_by_day: dict[tuple[str, date], float] = defaultdict(float)
    for seed, s in enumerate(STATIONS, start=1):
        station_lines, sales, station_waybills, unloading = _simulate(s, start, seed)
        world.unloading += unloading
        lines += station_lines
        waybills += station_waybills
        for t in sales:
            day = datetime.fromtimestamp(t.ts / 1000, LOCAL).date()
            sales_by_day[s.id, day] += t.volume
        world.transactions += len(sales)
    world.records, world.waybills = len(lines), len(waybills)
    world.sales_by_day = dict(sales_by_day)
    lines += _status_lines(start, end) + _ops_lines(start, end)

    engine = make_engine(registry_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    settings = make_settings(registry_url, tmp)
    with sessions.begin() as session:
        admin = create_user(
            session, username="grafana-test-admin", department="platform_admin", role="system_admin"
        )
    app = create_app(settings, engine=engine)
    auth = bearer(sessions, settings.api, admin.id)
    with TestClient(app) as client:
        for district, name in DISTRICTS.items():
            client.post(
                "/api/v1/districts", json={"id": district, "name": name}, headers=auth
            ).raise_for_status()
        for s in STATIONS:
            client.post(
                "/api/v1/stations",
                json={
                    "id": s.id,
                    "district": s.district,
                    "name": s.name,
                    "latitude": s.lat,
                    "longitude": s.lon,
                    "operator": "测试石化",
                    "contact_name": "王强",
                    "contact_phone": "13900001111",
                },
                headers=auth,
            ).raise_for_status()
        rows = _department_rows(world, waybills, end.astimezone(LOCAL).date())
        for dataset, dataset_rows in rows.items():
            resp = client.post(
                f"/api/v1/department-data/{dataset}", json={"rows": dataset_rows}, headers=auth
            )
            assert resp.status_code == 200, resp.text
    lines += _warnings(sessions, end)
    _write(influx, world.db, lines)
    _write(influx, world.db, _latest_status_lines())
    try:
        yield world
    finally:
        engine.dispose()
