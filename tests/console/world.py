"""The console tests' world: a registry with one user per role, and three days of station data.

    d1: S1 (2 tanks, 2 nozzles, gateway online), S2 (gateway silent)     d2: S3

Station data is written into InfluxDB as ingest writes it (``record_line``), anchored at the
start of the test session, so every page has something to draw. The numbers are chosen so a
reader can check them: every 30 minutes nozzle 1 sells 40 L of 92 at 7.50 and nozzle 2 sells
50 L of 0# at 7.00; tank 2 takes an 8,000 L delivery (waybill YD001) and tank 1 loses 300 L
once (the reconciliation chart shows that day outside its band).

The operator has set the daily reconciliation rule's false-alarm probability to 0.2: at the
default (0.0005) the rule's band on the day of a lone 300 L step is wider than the step — its
3-day fit takes the step into the gauge's residual error — and the chart, which shows the
rule's own decision, would draw no day outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.accounts.service import create_user
from fuelwatch.cloud.rules.definition import load_definitions
from fuelwatch.cloud.rules.store import register_rule, set_thresholds
from fuelwatch.cloud.store.lineproto import record_line
from fuelwatch.cloud.store.models.departments import DepartmentImport, EWaybill, TaxDeclaration
from fuelwatch.cloud.store.models.registry import (
    Dispenser,
    District,
    Gateway,
    Nozzle,
    Station,
    Tank,
)
from fuelwatch.cloud.warnings.service import upsert_warning
from fuelwatch.core.records import (
    DeliveryRecord,
    GatewayStatusRecord,
    InventoryRecord,
    PosDeliveryRecord,
    TransactionRecord,
)

#: user -> (department, role, scope); password: ``password_of(name)``
USERS: dict[str, tuple[str, str, dict[str, object]]] = {
    "admin": ("platform_admin", "system_admin", {}),
    "auditor": ("platform_admin", "audit_admin", {}),  # reads the API's audit log, no console
    "devmgr": ("platform_admin", "device_manager", {"all_districts": True}),
    "super1": ("commerce", "supervisor", {"districts": ["d1"]}),
    "officer1": ("commerce", "officer", {"districts": ["d1"]}),
    "viewer1": ("market_regulation", "viewer", {"districts": ["d1"]}),
    "importer1": ("tax", "importer", {"districts": ["d1"]}),
    "station1": ("station", "station", {"station": "S1"}),
    "station3": ("station", "station", {"station": "S3"}),
}
STATIONS = {"S1": "d1", "S2": "d1", "S3": "d2"}
DAYS = 3
STEP_MIN = 30  # a sale on each nozzle every 30 minutes
NOZZLES = {1: ("92", 1, 40.0, 7.50), 2: ("0", 2, 50.0, 7.00)}  # product, tank, litres, price
FACTOR = 0.995  # tc_volume / volume: the tank's 20 °C correction
DELIVERY_L = 8000.0
LOSS_L = 300.0
RECON_RULE = "reconciliation.daily_variance"
RECON_ALPHA = 0.2  # the operator's false-alarm probability for it (see above)
DECLARED_L = 3000.0  # S1's 92 declared for the two days before today (it sold 3,840 L)


def password_of(name: str) -> str:
    """Fits the password policy (12+, three kinds, without the user name)."""
    return f"Pw#{len(name)}-{name[::-1].upper()}-2026"


@dataclass
class World:
    now: datetime
    user_ids: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)  # station -> warning id
    sold: dict[str, float] = field(default_factory=dict)  # product -> litres sold at S1
    revenue: dict[str, float] = field(default_factory=dict)


def seed_registry(sessions: sessionmaker[Session], now: datetime) -> World:
    world = World(now=now)
    with sessions.begin() as session:
        for d in ("d1", "d2"):
            session.add(District(id=d, name=f"区 {d}", created_at=now))
        session.flush()
        for s, d in STATIONS.items():
            session.add(Station(id=s, district_id=d, name=f"测试站 {s}", created_at=now))
        session.flush()
        for s in ("S1", "S2"):
            session.add(Gateway(id=f"gw-{s}", station_id=s, created_at=now))
        for tank, product in ((1, "92"), (2, "0")):
            session.add(Tank(station_id="S1", tank_no=tank, product=product, capacity_l=30000.0))
        session.add(
            Dispenser(
                station_id="S1",
                dispenser_no=1,
                nozzles=[
                    Nozzle(station_id="S1", nozzle_no=n, product=p, tank_no=t)
                    for n, (p, t, _, _) in NOZZLES.items()
                ],
            )
        )
        for name, (department, role, scope) in USERS.items():
            user = create_user(
                session,
                username=name,
                password=password_of(name),
                department=department,
                role=role,
                **scope,  # type: ignore[arg-type]
            )
            world.user_ids[name] = user.id
        recon = next(d for d in load_definitions() if d.id == RECON_RULE)
        register_rule(
            session,
            rule_id=recon.id,
            category=recon.category,
            thresholds=recon.defaults(),
            specs=recon.specs(),
        )
        set_thresholds(session, recon.id, {"alpha": RECON_ALPHA}, actor="seed")
        attempt = DepartmentImport(
            dataset="ewaybills",
            department="commerce",
            actor="seed",
            source="json",
            rows_total=2,
            status="committed",
            created_at=now,
        )
        session.add(attempt)
        session.flush()
        for no, volume, hours in (("YD001", DELIVERY_L, 36), ("YD002", 6000.0, 20)):
            session.add(
                EWaybill(
                    record_key=no,
                    station_id="S1",
                    district_id="d1",
                    import_id=attempt.id,
                    department="commerce",
                    waybill_no=no,
                    vehicle_plate="津A12345",
                    product="0",
                    volume_l=volume,
                    arrived_at=now - timedelta(hours=hours),
                    created_at=now,
                )
            )
        local_today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
        session.add(
            TaxDeclaration(
                record_key="S1|declaration",
                station_id="S1",
                district_id="d1",
                import_id=attempt.id,
                department="tax",
                period_start=local_today - timedelta(days=2),
                period_end=local_today - timedelta(days=1),
                product="92",
                declared_volume_l=DECLARED_L,
                declared_revenue=DECLARED_L * 7.5,
                declaration_no="SB2026-001",
                created_at=now,
            )
        )
        for s in STATIONS:
            found = upsert_warning(
                session,
                rule_id="reconciliation.daily_variance",
                category="inventory_reconciliation",
                severity="high",
                station=s,
                subject="tank:1",
                title_zh=f"{s} 日进销存差异超限",
                title_en=f"{s}: daily book-to-gauge variance",
                message_zh="1号罐日差异 -300 L（允许 ±129.6 L）",
                message_en="tank 1: daily variance -300 L (allowed ±129.6 L)",
                evidence={
                    "rule": "reconciliation.daily_variance",
                    "window": {
                        "start": (now - timedelta(days=1)).isoformat(),
                        "end": now.isoformat(),
                    },
                    "comparison": {
                        "measured": 20000.0,
                        "expected": 20300.0,
                        "threshold": 129.6,
                        "unit": "L@20°C",
                        "test": "|measured − expected| > threshold",
                    },
                    "values": {"variance_l20": -300.0, "metered_sales_l20": 1910.4},
                    "queries": [
                        {
                            "name": "readings",
                            "influxql": 'SELECT "tc_volume" FROM "tank_inventory" '
                            f"WHERE station =~ /^({s})$/",
                        }
                    ],
                    "records": [
                        {
                            "measurement": "tank_inventory",
                            "time": (now - timedelta(hours=h)).isoformat(),
                            "rid": 100 + h,
                            "volume": 21000.0 - 40 * (24 - h),
                            "driver_phone": "13700001234",
                        }
                        for h in range(24, 0, -3)
                    ],
                    "records_total": 8,
                },
                seen_at=now - timedelta(hours=1),
            )
            world.warnings[s] = found.warning.id
    return world


def _lines(world: World) -> list[str]:
    """Three days of S1 (and a little S3), as ingest would have written them."""
    now = world.now
    start = now - timedelta(days=DAYS)
    lines: list[str] = []
    rid = 0

    def add(
        record: object, station: str = "S1", district: str = "d1", device: str = "atg1"
    ) -> None:
        lines.append(record_line(record, district=district, station=station, device=device))  # type: ignore[arg-type]

    volume = {1: 20000.0, 2: 15000.0}
    totalizer = {1: 100000.0, 2: 200000.0}
    delivery_at = now - timedelta(hours=36)
    loss_at = now - timedelta(hours=12)
    t = start
    while t < now:
        ms = int(t.timestamp() * 1000)
        for nozzle, (product, tank, litres, price) in NOZZLES.items():
            rid += 1
            before = totalizer[nozzle]
            totalizer[nozzle] += litres
            add(
                TransactionRecord(
                    rid=rid,
                    ts=ms + 60_000,
                    nozzle=nozzle,
                    product=product,
                    order_id=f"S1-{rid:06d}",
                    unit_price=price,
                    volume=litres,
                    amount=round(litres * price, 2),
                    start=ms,
                    end=ms + 60_000,
                    totalizer_before=before,
                    totalizer_after=totalizer[nozzle],
                ),
                device="disp1",
            )
            volume[tank] -= litres
            world.sold[product] = world.sold.get(product, 0.0) + litres
            world.revenue[product] = world.revenue.get(product, 0.0) + round(litres * price, 2)
        if delivery_at <= t < delivery_at + timedelta(minutes=STEP_MIN):
            rid += 1
            add(
                DeliveryRecord(
                    rid=rid,
                    ts=ms + 300_000,
                    tank=2,
                    product="0",
                    start=ms + 120_000,
                    end=ms + 300_000,
                    start_volume=volume[2],
                    end_volume=volume[2] + DELIVERY_L,
                    start_tc_volume=volume[2] * FACTOR,
                    end_tc_volume=(volume[2] + DELIVERY_L) * FACTOR,
                )
            )
            rid += 1
            add(
                PosDeliveryRecord(
                    rid=rid,
                    ts=ms + 300_000,
                    waybill_id="YD001",
                    tank=2,
                    product="0",
                    volume=DELIVERY_L * FACTOR,
                ),
                device="pos",
            )
            volume[2] += DELIVERY_L
        if loss_at <= t < loss_at + timedelta(minutes=STEP_MIN):
            volume[1] -= LOSS_L
        for tank, product in ((1, "92"), (2, "0")):
            for offset in (10, 25):  # quiet readings between sales
                rid += 1
                add(
                    InventoryRecord(
                        rid=rid,
                        ts=ms + offset * 60_000,
                        tank=tank,
                        product=product,
                        volume=round(volume[tank], 2),
                        tc_volume=round(volume[tank] * FACTOR, 2),
                        height=1000.0,
                        temperature=18.5,
                        status=0,
                    )
                )
        t += timedelta(minutes=STEP_MIN)
    ms_now = int(now.timestamp() * 1000)
    add(
        GatewayStatusRecord(
            rid=rid + 1, ts=ms_now - 30_000, state="online", boot=ms_now - 3_600_000
        ),
        device="gw-S1",
    )
    add(
        GatewayStatusRecord(rid=1, ts=ms_now - 7_200_000, state="online", boot=ms_now - 9_000_000),
        station="S2",
        device="gw-S2",
    )
    add(
        TransactionRecord(
            rid=1,
            ts=ms_now - 600_000,
            nozzle=1,
            product="92",
            order_id="S3-secret",
            unit_price=7.6,
            volume=33.0,
            amount=250.8,
            start=ms_now - 660_000,
            end=ms_now - 600_000,
        ),
        station="S3",
        district="d2",
        device="disp1",
    )
    return lines


def seed_influx(url: str, db: str, world: World) -> None:
    httpx.post(f"{url}/query", data={"q": f'CREATE DATABASE "{db}"'}, timeout=30).raise_for_status()
    lines = _lines(world)
    for i in range(0, len(lines), 5000):
        httpx.post(
            f"{url}/write",
            params={"db": db, "precision": "ns"},
            content="\n".join(lines[i : i + 5000]),
            timeout=60,
        ).raise_for_status()


def session_start() -> datetime:
    return datetime.now(tz=UTC).replace(second=0, microsecond=0)
