"""A simulated station in a real InfluxDB and registry, for rule tests.

The simulator's gateway feed is written with ingest's own line-protocol mapping; the station,
its tanks and nozzles go into the registry as registered (declared capacities); e-waybills and
other department rows go through the department importer. ``edit`` lets a test change the
feed where the simulator has no injection for a fraud (it says so where it is used).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Role
from fuelwatch.cloud.departments.importer import import_rows
from fuelwatch.cloud.rules.definition import load_definitions
from fuelwatch.cloud.rules.engine import EvaluationReport, RuleEngine
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.cloud.store.lineproto import record_line
from fuelwatch.cloud.store.models.registry import Dispenser, District, Nozzle, Station, Tank
from fuelwatch.core.records import BaseRecord
from fuelwatch.sim.delivery import Waybill
from fuelwatch.sim.events import StationEvent, WaybillEvent
from fuelwatch.sim.offline import gateway_records
from fuelwatch.sim.scenario import parse_scenario
from fuelwatch.sim.station import Station as SimStation
from tests.sim.factory import data
from tests.support.env import StackEnv

ADMIN = Principal(
    user_id=0,
    username="rules-test",
    role=Role.SYSTEM_ADMIN,
    department="tax",
    permissions=frozenset(),
    districts=None,
    station=None,
)

Edit = Callable[[str, BaseRecord], BaseRecord | None]


@dataclass
class Simulated:
    station: str
    start: datetime
    end: datetime
    records: list[tuple[str, BaseRecord]] = field(default_factory=list)
    waybills: list[Waybill] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)

    def of(self, kind: type[BaseRecord]) -> list[Any]:
        return [r for _, r in self.records if isinstance(r, kind)]


def simulate(env: StackEnv, station: str, *, edit: Edit | None = None, **changes: Any) -> Simulated:
    """Run a scenario (``tests.sim.factory.BASE`` with ``changes``) into the env's InfluxDB and
    register the station; returns what was written."""
    scenario = parse_scenario(
        data(station={"id": station, "name": station, "district": env.district}, **changes)
    )
    sim = SimStation(scenario)
    waybills: list[Waybill] = []

    def on_events(events: list[StationEvent]) -> None:
        waybills.extend(e.waybill for e in events if isinstance(e, WaybillEvent))

    out = Simulated(
        station,
        datetime.fromtimestamp(scenario.start_ms / 1000, UTC),
        datetime.fromtimestamp(scenario.end_ms / 1000, UTC),
    )
    lines: list[str] = []
    for rid, (device, record) in enumerate(gateway_records(sim, on_events=on_events), start=1):
        rec: BaseRecord | None = record.model_copy(update={"rid": rid})
        if edit is not None and rec is not None:
            rec = edit(device, rec)
        if rec is None:
            continue
        out.records.append((device, rec))
        lines.append(record_line(rec, district=env.district, station=station, device=device))
    _write(env, lines)
    out.waybills = waybills
    out.labels = sim.labels.labels()
    _register(env, sim.registry())
    return out


def _write(env: StackEnv, lines: list[str]) -> None:
    httpx.post(
        f"{env.influx.url}/query", data={"q": f'CREATE DATABASE "{env.db}"'}, timeout=30
    ).raise_for_status()
    for i in range(0, len(lines), 20_000):
        httpx.post(
            f"{env.influx.url}/write",
            params={"db": env.db, "precision": "ns"},
            content="\n".join(lines[i : i + 20_000]),
            timeout=60,
        ).raise_for_status()


def _register(env: StackEnv, reg: dict[str, Any]) -> None:
    with env.sessions.begin() as session:
        if session.get(District, env.district) is None:
            session.add(District(id=env.district, name=env.district))
            session.flush()
        station = Station(id=reg["station"], district_id=env.district, name=str(reg["name"]))
        session.add(station)
        for t in reg["tanks"]:
            station.tanks.append(
                Tank(
                    tank_no=t["tank"], product=t["product"], capacity_l=t["capacity"], strapping=[]
                )
            )
        dispensers: dict[int, Dispenser] = {}
        for n in reg["nozzles"]:
            d = dispensers.get(n["dispenser"])
            if d is None:
                d = dispensers[n["dispenser"]] = Dispenser(dispenser_no=n["dispenser"])
                station.dispensers.append(d)
            d.nozzles.append(
                Nozzle(
                    station_id=reg["station"],
                    nozzle_no=n["nozzle"],
                    product=n["product"],
                    tank_no=n["tank"],
                )
            )


def import_department(env: StackEnv, dataset: str, rows: Iterable[dict[str, Any]]) -> None:
    with env.sessions() as session:
        report = import_rows(
            session,
            dataset=dataset,
            rows=list(enumerate(rows, start=1)),
            principal=ADMIN,
            source="json",
        )
    assert report.status == "committed", report.errors


def import_waybills(env: StackEnv, waybills: Iterable[Waybill]) -> None:
    rows = [w.as_ewaybill() for w in waybills]
    if rows:
        import_department(env, "ewaybills", rows)


def engine(env: StackEnv, *rule_ids: str) -> RuleEngine:
    """The engine on the env's registry and InfluxDB, with only the named rules (all if none)."""
    definitions = [d for d in load_definitions() if not rule_ids or d.id in rule_ids]
    assert not rule_ids or len(definitions) == len(rule_ids), "unknown rule id in a test"
    return RuleEngine(
        sessions=env.sessions,
        influx=InfluxClient(env.influx.url, env.db),
        definitions=definitions,
    )


async def evaluate(
    env: StackEnv, now: datetime, *rule_ids: str, since: datetime | None = None
) -> EvaluationReport:
    """Every rule as of ``now``. A fresh engine reads the last 3 days into its state; with
    ``since`` it runs every 12 hours from then first, as a running engine would have, so its
    state holds everything from ``since`` (the leak rule's 7-day window needs that)."""
    e = engine(env, *rule_ids)
    try:
        at = since
        while at is not None and at < now:
            await e.run_all(at)
            at += timedelta(hours=12)
        report = await e.run_all(now)
    finally:
        await e.aclose()
    assert not report.errors, [(r.rule_id, r.error) for r in report.errors]
    return report
