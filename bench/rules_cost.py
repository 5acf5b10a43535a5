"""What the rule engine costs: CPU per station-day with every rule on its own schedule, and one
rule cycle over many stations.

    python bench/rules_cost.py [--stations 20] [--days 4] [--cycle-stations 1000] [--record]

1. **Per station-day.** ``--stations`` simulated stations (4 tanks, 8 nozzles, 350–700 sales a
   day, gauge every 60 s) are written into a real InfluxDB (the line protocol ingest writes)
   and registered; the real ``RuleEngine`` is stepped every 15 simulated minutes with
   ``run_due`` over ``--days`` (every rule on its own schedule, 5 min to 6 h). CPU of this
   process (the engine) and of influxd (its queries) is measured from /proc over the whole
   replay (the first day's raw read included), divided by the station-days evaluated.
2. **One cycle over ``--cycle-stations``.** The simulated stations' first day is copied under
   that many station ids (same points, other tags), the engine's state is warmed up, and the
   wall time and CPU of one ``run_all`` 15 minutes later are measured (state advance: reading
   the new points of every station, then every rule).

Numbers go to docs/performance.md (``--record``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import cpu_seconds, start_influx  # noqa: E402
from bench.detect.matrix import MatrixConfig, build_matrix  # noqa: E402
from bench.report import record  # noqa: E402
from fuelwatch.cloud.rules.engine import RuleEngine  # noqa: E402
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from fuelwatch.cloud.store.influx import InfluxClient  # noqa: E402
from fuelwatch.cloud.store.lineproto import record_line  # noqa: E402
from fuelwatch.cloud.store.models.registry import (  # noqa: E402
    Dispenser,
    District,
    Nozzle,
    Station,
    Tank,
)
from fuelwatch.sim.offline import gateway_records  # noqa: E402
from fuelwatch.sim.scenario import parse_scenario  # noqa: E402
from fuelwatch.sim.station import Station as SimStation  # noqa: E402

DISTRICT = "bench"


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def simulate(scenario: dict[str, Any]) -> tuple[SimStation, list[tuple[str, Any]]]:
    sim = SimStation(parse_scenario(scenario))
    return sim, list(gateway_records(sim))


def create_database(url: str) -> None:
    httpx.post(f"{url}/query", data={"q": 'CREATE DATABASE "fuelwatch"'}, timeout=30)


def write(url: str, lines: list[str]) -> None:
    for i in range(0, len(lines), 50_000):
        httpx.post(
            f"{url}/write",
            params={"db": "fuelwatch", "precision": "ns"},
            content="\n".join(lines[i : i + 50_000]),
            timeout=300,
        ).raise_for_status()


def lines_of(
    records: list[tuple[str, Any]], station: str, until_ms: int | None = None
) -> list[str]:
    out = []
    for rid, (device, rec) in enumerate(records, start=1):
        if until_ms is not None and rec.ts > until_ms:
            break
        out.append(
            record_line(
                rec.model_copy(update={"rid": rid}),
                district=DISTRICT,
                station=station,
                device=device,
            )
        )
    return out


def register(sessions: Any, station_id: str, sim: SimStation) -> None:
    reg = sim.registry()
    with sessions.begin() as session:
        if session.get(District, DISTRICT) is None:
            session.add(District(id=DISTRICT, name=DISTRICT))
            session.flush()
        st = Station(id=station_id, district_id=DISTRICT, name=station_id)
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
                    station_id=station_id,
                    nozzle_no=n["nozzle"],
                    product=n["product"],
                    tank_no=n["tank"],
                )
            )


async def per_station_day(args: argparse.Namespace, state: Path) -> dict[str, Any]:
    influx_proc, url = start_influx(state / "influx-a")
    try:
        create_database(url)
        db = make_engine(f"sqlite:///{state / 'registry-a.db'}")
        upgrade(db)
        sessions = make_sessionmaker(db)
        cfg = MatrixConfig(days=args.days, inventory_interval_s=60, seed=args.seed)
        specs = [s for s in build_matrix(cfg) if s.group == "clean"]
        specs = (specs * (args.stations // len(specs) + 1))[: args.stations]
        start_ms = end_ms = 0
        for i, spec in enumerate(specs):
            sid = f"cost{i:03d}"
            scenario = dict(spec.scenario, seed=spec.scenario["seed"] + 100 * i)
            sim, records = simulate(scenario)
            write(url, lines_of(records, sid))
            register(sessions, sid, sim)
            start_ms, end_ms = sim.scenario.start_ms, sim.scenario.end_ms
        say(f"{len(specs)} stations × {args.days} days in InfluxDB")
        engine = RuleEngine(sessions=sessions, influx=InfluxClient(url, "fuelwatch"))
        first = datetime.fromtimestamp(start_ms / 1000, UTC) + timedelta(days=1)
        last = datetime.fromtimestamp(end_ms / 1000, UTC)
        cpu0, influx0, t0 = time.process_time(), cpu_seconds(influx_proc.pid), time.perf_counter()
        now, evaluations = first, 0
        per_rule: dict[str, float] = {}
        while now <= last:
            report = await engine.run_due(now)
            evaluations += len(report.results)
            for r in report.results:
                per_rule[r.rule_id] = per_rule.get(r.rule_id, 0.0) + r.duration_ms
            now += timedelta(minutes=15)
        await engine.aclose()
        cpu = time.process_time() - cpu0
        influx_cpu = cpu_seconds(influx_proc.pid) - influx0
        wall = time.perf_counter() - t0
        days = len(specs) * (args.days - 1)
        db.dispose()
        return {
            "stations": len(specs),
            "station_days": days,
            "evaluations": evaluations,
            "engine_cpu_s": cpu,
            "influx_cpu_s": influx_cpu,
            "wall_s": wall,
            "per_rule_ms": per_rule,
            "points": engine.keeper.stats.points,
        }
    finally:
        influx_proc.stop()


async def one_cycle(args: argparse.Namespace, state: Path) -> dict[str, Any]:
    influx_proc, url = start_influx(state / "influx-b")
    try:
        create_database(url)
        db = make_engine(f"sqlite:///{state / 'registry-b.db'}")
        upgrade(db)
        sessions = make_sessionmaker(db)
        cfg = MatrixConfig(days=2, inventory_interval_s=60, seed=args.seed)
        specs = [s for s in build_matrix(cfg) if s.group == "clean"][:5]
        sims = [simulate(s.scenario) for s in specs]
        t0 = time.perf_counter()
        until = sims[0][0].scenario.start_ms + 36 * 3_600_000
        for i in range(args.cycle_stations):
            sim, records = sims[i % len(sims)]
            sid = f"cyc{i:04d}"
            write(url, lines_of(records, sid, until_ms=until))
            register(sessions, sid, sim)
        say(f"{args.cycle_stations} stations' 36 h written in {time.perf_counter() - t0:.0f} s")
        engine = RuleEngine(sessions=sessions, influx=InfluxClient(url, "fuelwatch"))
        warm = datetime.fromtimestamp(until / 1000, UTC) - timedelta(minutes=15)
        t1 = time.perf_counter()
        await engine.run_all(warm)  # the first raw read of a day: the warm-up
        warm_s = time.perf_counter() - t1
        cpu0, influx0, t2 = time.process_time(), cpu_seconds(influx_proc.pid), time.perf_counter()
        report = await engine.run_all(warm + timedelta(minutes=15))
        wall = time.perf_counter() - t2
        out = {
            "stations": args.cycle_stations,
            "warmup_s": warm_s,
            "cycle_wall_s": wall,
            "cycle_engine_cpu_s": time.process_time() - cpu0,
            "cycle_influx_cpu_s": cpu_seconds(influx_proc.pid) - influx0,
            "rules": len(report.results),
            "errors": [r.error for r in report.results if r.error],
        }
        await engine.aclose()
        db.dispose()
        return out
    finally:
        influx_proc.stop()


def render(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    machine = f"{os.cpu_count()} cores, {platform.system()}, Python {platform.python_version()}"
    lines = [
        "### Rule engine cost (bench/rules_cost.py)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on this machine ({machine}), shared with other jobs.",
        "",
    ]
    if a:
        total = a["engine_cpu_s"] + a["influx_cpu_s"]
        lines += [
            (
                f"- **Every rule on its own schedule**: {a['stations']} stations × "
                f"{a['station_days'] // a['stations']} evaluated days ({a['station_days']} station-days, gauge "
                f"every 60 s), engine stepped every 15 min: {a['evaluations']:,} rule evaluations, "
                f"{a['points']:,} raw points read once each. Engine {a['engine_cpu_s']:.1f} CPU-s + "
                f"InfluxDB {a['influx_cpu_s']:.1f} CPU-s = **{total / a['station_days']:.3f} CPU-s per "
                f"station-day** (target ≤ 0.5); wall {a['wall_s']:.0f} s."
            ),
            "",
            "| rule | total ms | ms per station-day |",
            "|---|---|---|",
        ]
        for rule, ms in sorted(a["per_rule_ms"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| `{rule}` | {ms:,.0f} | {ms / a['station_days']:.1f} |")
        lines.append("")
    if b:
        lines += [
            f"- **One rule cycle over {b['stations']:,} stations** (every rule, 15 min of new "
            f"data each): **{b['cycle_wall_s']:.1f} s wall** (target ≤ 10 s on 2 cores); engine "
            f"{b['cycle_engine_cpu_s']:.1f} CPU-s, InfluxDB {b['cycle_influx_cpu_s']:.1f} CPU-s. The "
            f"warm-up before it (the first raw read of every station's data) took {b['warmup_s']:.0f} s."
            + (f" Errors: {b['errors']}." if b["errors"] else ""),
            "",
        ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    state = Path(tempfile.mkdtemp(prefix="fw-rulecost-"))
    a = await per_station_day(args, state) if args.stations else None
    if a:
        say(f"per station-day: {a}")
    b = await one_cycle(args, state) if args.cycle_stations else None
    if b:
        say(f"one cycle: {b}")
    text = render(a, b)
    print(text)
    if args.record:
        record("bench/rules_cost.py", text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=20)
    ap.add_argument("--days", type=int, default=4)
    ap.add_argument("--cycle-stations", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--record", action="store_true")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
