"""The fast path for tuning: the real rule engine on simulated stations, without the pipeline.

    python bench/detect/offline.py --seed 1 [--quick] [--workers 2] [--rules PATTERNS]

Each station runs in a worker process: the simulator's gateway feed is turned into the points
the engine's state reads (the same conversion as ``cloud/rules/state/source.py`` applies to
InfluxDB rows), the station and its e-waybills go into a SQLite registry, and the real
``RuleEngine`` is stepped over the period with ``run_due`` (every rule on its own schedule),
its state fed by ``OfflineKeeper`` instead of InfluxDB. Alarms are scored like the full bench.

This is where thresholds may be tuned — on the **tuning seeds** only. The numbers in
docs/detection.md come from the full bench (``bench/detection.py``) on the test seeds, through
the real pipeline, never from here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.detect import score  # noqa: E402
from bench.detect.drive import read_alarms, select_rules  # noqa: E402
from bench.detect.matrix import MatrixConfig, StationSpec, build_matrix  # noqa: E402
from bench.detect.report import category_table, kind_table  # noqa: E402
from bench.detect.scoring import score_run  # noqa: E402
from fuelwatch.cloud.accounts.principal import Principal  # noqa: E402
from fuelwatch.cloud.accounts.roles import Role  # noqa: E402
from fuelwatch.cloud.departments.importer import import_rows  # noqa: E402
from fuelwatch.cloud.rules.detectors import DETECTORS  # noqa: E402
from fuelwatch.cloud.rules.engine import RuleEngine  # noqa: E402
from fuelwatch.cloud.rules.facts import Facts  # noqa: E402
from fuelwatch.cloud.rules.state.keeper import StateKeeper  # noqa: E402
from fuelwatch.cloud.rules.state.source import _point  # noqa: E402
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from fuelwatch.cloud.store.influx import InfluxClient  # noqa: E402
from fuelwatch.cloud.store.models.registry import (  # noqa: E402
    Dispenser,
    District,
    Nozzle,
    Station,
    Tank,
)
from fuelwatch.cloud.store.models.warnings import Warning_  # noqa: E402
from fuelwatch.core.records import (  # noqa: E402
    BaseRecord,
    DeliveryRecord,
    InventoryRecord,
    NozzleEventRecord,
    PosDeliveryRecord,
    PosSaleRecord,
    TotalizerRecord,
    TransactionRecord,
)
from fuelwatch.core.volume import expansion_of  # noqa: E402
from fuelwatch.sim.events import StationEvent, WaybillEvent  # noqa: E402
from fuelwatch.sim.offline import gateway_records  # noqa: E402
from fuelwatch.sim.scenario import parse_scenario  # noqa: E402
from fuelwatch.sim.station import Station as SimStation  # noqa: E402

KINDS: dict[type[BaseRecord], str] = {
    InventoryRecord: "reading",
    TransactionRecord: "sale",
    TotalizerRecord: "snapshot",
    NozzleEventRecord: "hang",
    DeliveryRecord: "delivery",
    PosDeliveryRecord: "pos_delivery",
    PosSaleRecord: "pos_sale",
}
ADMIN = Principal(
    user_id=0,
    username="offline-bench",
    role=Role.ADMIN,
    department="tax",
    permissions=frozenset(),
    districts=None,
    station=None,
)
HOUR_MS = 3_600_000


@dataclass(slots=True)
class OfflineKeeper(StateKeeper):
    """A keeper fed from a list of points (time order) instead of InfluxDB."""

    feed: list[tuple[int, str, str, Any]] = field(default_factory=list)
    _next: int = 0

    async def advance(self, now_ms: int, facts: Facts) -> int:
        end = now_ms - self.lag_ms
        for sid in facts.stations:
            self._station(facts, sid)
        while self._next < len(self.feed) and self.feed[self._next][0] <= end:
            _, sid, kind, point = self.feed[self._next]
            self._next += 1
            if sid in self.states:
                self.states[sid].add(kind, point, self.params)
                self.stats.points += 1
        for state in self.states.values():
            state.advance(end)
        return end


def _points(
    station: SimStation,
) -> tuple[list[tuple[int, str, str, Any]], list[Any], dict[int, dict[int, float]]]:
    sid = station.scenario.station.id
    expansion = {p: expansion_of(p) for p in station.scenario.products}
    waybills: list[Any] = []
    metered: dict[int, dict[int, float]] = {}
    nozzle_tank = {n.number: n.tank for n in station.nozzles.values()}

    def on_events(events: list[StationEvent]) -> None:
        waybills.extend(e.waybill for e in events if isinstance(e, WaybillEvent))

    out = []
    for device, record in gateway_records(station, on_events=on_events):
        kind = KINDS.get(type(record))
        if kind is None:
            continue
        row = record.model_dump()
        row["time"] = record.ts
        tags = {"station": sid, "device": device}
        for tag in ("tank", "nozzle", "product"):
            if row.get(tag) is not None:
                tags[tag] = str(row[tag])
        if kind == "hang":
            row["event"] = row.get("event")
        point = _point(kind, tags, row, expansion)
        if point is None:
            continue
        if isinstance(record, TransactionRecord):
            tank = nozzle_tank[record.nozzle]
            hours = metered.setdefault(tank, {})
            hours[record.ts // HOUR_MS] = hours.get(record.ts // HOUR_MS, 0.0) + record.volume
        arrival = record.gts if record.gts is not None else record.ts
        out.append((max(arrival, record.ts), sid, kind, point))
    out.sort(key=lambda x: x[0])
    return out, waybills, metered


def _register(sessions: Any, station: SimStation, waybills: list[Any]) -> None:
    reg = station.registry()
    with sessions.begin() as session:
        session.add(District(id=str(reg["district"]), name=str(reg["district"])))
        session.flush()
        st = Station(id=reg["station"], district_id=str(reg["district"]), name=str(reg["name"]))
        session.add(st)
        for t in reg["tanks"]:  # type: ignore[attr-defined]
            st.tanks.append(
                Tank(
                    tank_no=t["tank"], product=t["product"], capacity_l=t["capacity"], strapping=[]
                )
            )
        dispensers: dict[int, Dispenser] = {}
        for n in reg["nozzles"]:  # type: ignore[attr-defined]
            d = dispensers.get(n["dispenser"])
            if d is None:
                d = dispensers[n["dispenser"]] = Dispenser(dispenser_no=n["dispenser"])
                st.dispensers.append(d)
            d.nozzles.append(
                Nozzle(
                    station_id=reg["station"],
                    nozzle_no=n["nozzle"],
                    product=n["product"],
                    tank_no=n["tank"],
                )
            )
    rows = [w.as_ewaybill() for w in waybills]
    if rows:
        with sessions() as session:
            import_rows(
                session,
                dataset="ewaybills",
                rows=list(enumerate(rows, 1)),
                principal=ADMIN,
                source="json",
            )


def run_station(
    scenario: dict[str, Any],
    patterns: list[str],
    step_min: int,
    eval_from_h: int,
    with_evidence: bool = False,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    sim = SimStation(parse_scenario(scenario))
    feed, waybills, metered = _points(sim)
    t_sim = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(f"sqlite:///{tmp}/registry.db")
        upgrade(db)
        sessions = make_sessionmaker(db)
        _register(sessions, sim, waybills)
        influx = InfluxClient("http://127.0.0.1:9", "unused")
        keeper = OfflineKeeper(influx=influx, sessions=sessions, persist=False, feed=feed)
        # the rules on the running state (capacity_check reads its own InfluxDB query:
        # only the full bench runs it)
        rules = [
            d
            for d in select_rules(patterns, [])
            if DETECTORS[d.detector].uses_state or not DETECTORS[d.detector].queries
        ]
        engine = RuleEngine(sessions=sessions, influx=influx, definitions=rules, keeper=keeper)
        start = sim.scenario.start_ms + eval_from_h * HOUR_MS
        now = datetime.fromtimestamp(start / 1000, UTC)
        end = datetime.fromtimestamp(sim.scenario.end_ms / 1000, UTC)
        costs: dict[str, float] = {}
        t1 = time.process_time()

        async def drive() -> None:
            nonlocal now
            while now <= end:
                report = await engine.run_due(now)
                for r in report.results:
                    costs[r.rule_id] = costs.get(r.rule_id, 0.0) + r.duration_ms
                    if r.error:
                        raise RuntimeError(f"{r.rule_id}: {r.error}")
                now += timedelta(minutes=step_min)
            await engine.aclose()

        asyncio.run(drive())
        cpu = time.process_time() - t1
        alarms = read_alarms(sessions)
        evidence = []
        if with_evidence:
            with sessions() as session:
                evidence.extend(
                    {
                        "rule": w.rule_id,
                        "subject": w.subject,
                        "first_seen": str(w.first_seen),
                        "values": w.evidence.get("values"),
                        "comparison": w.evidence.get("comparison"),
                    }
                    for w in session.scalars(select(Warning_))
                )
        db.dispose()
    return {
        "station": sim.scenario.station.id,
        "labels": [label.to_json() for label in sim.labels.labels()],
        "metered": metered,
        "start_ms": sim.scenario.start_ms,
        "end_ms": sim.scenario.end_ms,
        "alarms": [asdict(a) for a in alarms],
        "sim_s": t_sim,
        "engine_cpu_s": cpu,
        "rule_ms": costs,
        "points": keeper.stats.points,
        "evidence": evidence,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="matrix seed (1 = the tuning set)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rules", default="", help="comma-separated fnmatch patterns (default all)")
    ap.add_argument("--groups", default="", help="only these station groups (clean, leak, ...)")
    ap.add_argument("--step", type=int, default=15, help="engine clock step, minutes")
    ap.add_argument("--inventory-interval", type=int, default=120)
    ap.add_argument("--out", help="write the per-station results (JSON) here")
    args = ap.parse_args()
    cfg_kw = {"inventory_interval_s": args.inventory_interval, "seed": args.seed}
    cfg = MatrixConfig.quick(**cfg_kw) if args.quick else MatrixConfig(**cfg_kw)
    specs: list[StationSpec] = build_matrix(cfg)
    if args.groups:
        groups = set(args.groups.split(","))
        specs = [s for s in specs if s.group in groups]
    patterns = [p for p in args.rules.split(",") if p]
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
        futures = {
            s.id: pool.submit(run_station, s.scenario, patterns, args.step, 24) for s in specs
        }
        for sid, fut in futures.items():
            results[sid] = fut.result()
            r = results[sid]
            print(
                f"{sid}: {len(r['alarms'])} alarms, sim {r['sim_s']:.0f} s, engine {r['engine_cpu_s']:.0f} CPU-s",
                flush=True,
            )
    if args.out:
        Path(args.out).write_text(json.dumps(results), encoding="utf-8")
    alarms = [score.Alarm(**a) for r in results.values() for a in r["alarms"]]
    scored = score_run(specs, results, alarms, timedelta(days=1))
    fa: score.FalseAlarms = scored["fa"]
    hit, tanks = scored["pfa"]
    days = sum((r["end_ms"] - r["start_ms"]) / 86_400_000 - 1 for r in results.values())
    cpu = sum(r["engine_cpu_s"] for r in results.values())
    print(
        f"\nseed {args.seed}: {len(specs)} stations, {time.perf_counter() - t0:.0f} s wall; engine {cpu:.0f} CPU-s = {cpu / days:.3f} per station-day"
    )
    for v in scored["verdicts"]:
        print(f"  {v.target}: {v.note}")
    print(
        f"  false alarms: {fa.count} in {fa.clean_days:.0f} clean station-days = {fa.per_100_days:.2f} per 100; leak Pfa {hit}/{tanks}"
    )
    print("  by rule:", dict(fa.by_rule.most_common()))
    print()
    print(kind_table(scored["rows"]))
    print()
    print(category_table(scored["outcomes"], fa))
    rule_ms: dict[str, float] = {}
    for r in results.values():
        for k, v in r["rule_ms"].items():
            rule_ms[k] = rule_ms.get(k, 0.0) + v
    print(
        "\nengine ms per rule:",
        {k: round(v) for k, v in sorted(rule_ms.items(), key=lambda kv: -kv[1])},
    )


if __name__ == "__main__":
    main()
