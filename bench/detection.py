"""Detection bench: simulated stations -> the real pipeline -> the rule engine -> scored.

    python bench/detection.py [--quick] [--record] [--state DIR] [--step 15m]

1. A scenario matrix (bench/detect/matrix.py): clean stations and every fraud class at
   several magnitudes, all starting at the same simulated instant.
2. Each station's simulated feed goes into its gateway's spool; the real gateway process
   signs and publishes it over MQTT 5 to a real Mosquitto, the real ingest worker verifies
   and stores it in a real InfluxDB, with the simulated timestamps. Stations, tanks
   (declared capacity, strapping), dispensers and department data (licences,
   verifications, inspections, e-waybills, daily tax declarations) go in through the
   management API.
3. The rule engine is stepped over the simulated period (``run_due(now)``).
4. The warnings it left in the registry are scored against the simulator's labels
   (bench/detect/score.py) and printed; ``--record`` writes them into docs/detection.md.

``--state DIR`` keeps everything; run again with the same DIR to re-run only the engine on
the data already loaded (``--rescore`` only re-scores the saved alarms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import (  # noqa: E402
    CLOUD_PASSWORD,
    CLOUD_USER,
    cli,
    cloud_env,
    cpu_seconds,
    influx_query,
    ingest_process,
    spool_backlog,
    start_broker,
    start_influx,
)
from bench.detect import score  # noqa: E402
from bench.detect.drive import (  # noqa: E402
    DriveStats,
    drive,
    engine_available,
    read_alarms,
    select_rules,
    stats_from_json,
)
from bench.detect.feed import (  # noqa: E402
    department_rows,
    dispenser_bodies,
    simulate_to_spool,
    static_rows,
    tank_bodies,
)
from bench.detect.matrix import MatrixConfig, StationSpec, build_matrix  # noqa: E402
from bench.detect.report import category_table, judge_targets, kind_table  # noqa: E402
from bench.detect.truth import Layout, station_period, trials  # noqa: E402
from bench.report import record  # noqa: E402
from cloud.accounts.service import create_api_key, create_user  # noqa: E402
from cloud.api.app import create_app  # noqa: E402
from cloud.provisioning import Bundle, provision_gateway  # noqa: E402
from cloud.registry.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from cloud.settings import CloudSettings, MqttEndpoint  # noqa: E402
from cloud.warnings.models import Warning_, WarningAttachment, WarningComment, WarningEvent  # noqa: E402
from fuelwatch.sim.scenario import parse_scenario  # noqa: E402
from fuelwatch.sim.station import Station  # noqa: E402
from fuelwatch.stack.process import ManagedProcess  # noqa: E402

DOC = ROOT / "docs" / "detection.md"


def parse_duration(text: str) -> timedelta:
    m = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?", text.strip())
    if not m or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"{text!r}: use e.g. 15m, 1h, 1d")
    d, h, mins = (int(g or 0) for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mins)


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- loading ----------------------------------------------------------------------------------


class Loader:
    """Provision, register, simulate into spools, drain through the pipeline."""

    def __init__(self, args: argparse.Namespace, state: Path, specs: list[StationSpec]) -> None:
        self.args, self.state, self.specs = args, state, specs
        self.procs: list[ManagedProcess] = []
        self.results: dict[str, dict[str, Any]] = {}
        self.spooled = 0

    async def register(self, sessions: Any, settings: CloudSettings, engine: Any) -> None:
        with sessions.begin() as session:
            admin = create_user(
                session, username="detection-bench", department="platform_admin", role="admin"
            )
            _key, plain = create_api_key(session, admin, name="detection bench")
        app = create_app(settings, engine=engine)
        transport = httpx.ASGITransport(app=app)
        self.api = httpx.AsyncClient(
            transport=transport, base_url="http://api", headers={"X-API-Key": plain}, timeout=120
        )
        for spec in self.specs:
            station = Station(parse_scenario(spec.scenario))
            sid = spec.id
            for tank, body in tank_bodies(station).items():
                await self._call("PUT", f"/api/v1/stations/{sid}/tanks/{tank}", body)
            for number, body in dispenser_bodies(station).items():
                await self._call("PUT", f"/api/v1/stations/{sid}/dispensers/{number}", body)
            nozzles = {n.number: n.dispenser for n in station.nozzles.values()}
            start = datetime.fromtimestamp(station.scenario.start_ms / 1000, UTC)
            await self._post_rows(static_rows(sid, start, nozzles))

    async def _call(self, method: str, url: str, body: Any) -> None:
        resp = await self.api.request(method, url, json=body)
        if resp.status_code >= 300:
            raise SystemExit(f"{method} {url}: {resp.status_code} {resp.text[:500]}")

    async def _post_rows(self, datasets: dict[str, list[Any]]) -> None:
        for dataset, rows in datasets.items():
            for i in range(0, len(rows), 5000):
                await self._call(
                    "POST", f"/api/v1/department-data/{dataset}", {"rows": rows[i : i + 5000]}
                )

    def gateway(self, bundle: Bundle) -> ManagedProcess:
        return ManagedProcess(
            bundle.gateway,
            [*cli(), "gateway", "run", "-c", str(bundle.config_file)],
            log_file=self.state / "logs" / f"{bundle.gateway}.log",
            ready=lambda: True,
        ).start()

    async def load(self, bundles: dict[str, Bundle], url: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        pending: dict[str, Future[dict[str, Any]]] = {}
        draining: dict[str, ManagedProcess] = {}
        finished: set[str] = set()
        cpu_sim = 0.0
        with ProcessPoolExecutor(max_workers=self.args.workers, mp_context=ctx) as pool:
            for spec in self.specs:
                spool = bundles[spec.id].path / "spool" / "spool.db"
                pending[spec.id] = pool.submit(simulate_to_spool, spec.scenario, str(spool))
            last_report, last_stored, last_t = 0.0, 0, time.perf_counter()
            while pending or draining:
                for sid, fut in list(pending.items()):
                    if fut.done():
                        result = fut.result()
                        del pending[sid]
                        self.results[sid] = result
                        self.spooled += result["records"]
                        cpu_sim += result["wall_s"]
                        await self._post_rows(department_rows(result))
                        draining[sid] = self.gateway(bundles[sid])
                for sid, proc in list(draining.items()):
                    if spool_backlog(bundles[sid].path / "spool" / "spool.db") == 0:
                        await asyncio.sleep(1.0)  # let the last PUBACKs land
                        proc.stop()
                        del draining[sid]
                        finished.add(sid)
                now = time.perf_counter()
                if now - last_report >= 10:
                    stored = stored_records(url)
                    rate = (stored - last_stored) / (now - last_t) if now > last_t else 0
                    backlog = sum(
                        spool_backlog(bundles[s].path / "spool" / "spool.db") for s in draining
                    )
                    say(
                        f"simulated {len(self.results)}/{len(self.specs)} stations, "
                        f"spooled {self.spooled:,} records, in spools {backlog:,}, "
                        f"stored {stored:,} ({rate:,.0f}/s), gateways draining {len(draining)}"
                    )
                    last_report, last_stored, last_t = now, stored, now
                await asyncio.sleep(0.5)
        # every spool is empty: wait for ingest to store what the broker still holds
        deadline, stored, quiet = time.monotonic() + 600, 0, 0
        while time.monotonic() < deadline:
            now_stored = stored_records(url)
            quiet = quiet + 1 if now_stored == stored else 0
            stored = now_stored
            if stored >= self.spooled and quiet >= 3:
                break
            await asyncio.sleep(2)
        wall = time.perf_counter() - t0
        rejected = influx_query(url, "fuelwatch", 'SELECT count("size") FROM "rejected"')
        n_rejected = int(rejected[0]["values"][0][1]) if rejected else 0
        say(
            f"loaded {self.spooled:,} records in {wall:.0f} s ({self.spooled / wall:,.0f}/s "
            f"end to end); ingest counted {stored:,} stored (incl. gateway status), "
            f"{n_rejected} rejected"
        )
        return {
            "records": self.spooled,
            "stored": stored,
            "rejected": n_rejected,
            "wall_s": wall,
            "sim_s": cpu_sim,
        }


def stored_records(url: str) -> int:
    """Records ingest has stored, from its own counters (all workers, latest each)."""
    try:
        series = influx_query(
            url,
            "fuelwatch",
            'SELECT last("accepted_records") FROM "ingest_stats" GROUP BY "worker"',
        )
    except (httpx.HTTPError, RuntimeError):
        return 0
    return sum(int(s["values"][0][1] or 0) for s in series)


# -- scoring ----------------------------------------------------------------------------------


def score_run(
    specs: list[StationSpec],
    results: dict[str, dict[str, Any]],
    alarms: list[score.Alarm],
    eval_from: timedelta,
    evaluated: set[str] | None = None,
    kinds: set[str] | None = None,
) -> dict[str, Any]:
    """``evaluated``: categories that had a rule running (None: all); trials of a class none
    of whose categories ran are left out as not measured, not counted as missed."""
    all_trials: list[score.Trial] = []
    periods: list[score.StationPeriod] = []
    outcomes: list[score.Outcome] = []
    for spec in specs:
        r = results[spec.id]
        sc = parse_scenario(spec.scenario)
        layout = Layout(
            {n.nozzle: n.tank for d in sc.dispensers for n in d.nozzles},
            {t.tank: t.product for t in sc.tanks},
        )
        metered = {
            int(t): {int(h): v for h, v in hours.items()} for t, hours in r["metered"].items()
        }
        nominal = {int(k): (v[0], v[1]) for k, v in spec.nominal.items()}
        mine = trials(spec.id, r["labels"], layout, metered, nominal)
        start = r["start_ms"] + int(eval_from.total_seconds() * 1000)
        period = station_period(
            spec.id,
            start_ms=start,
            end_ms=r["end_ms"],
            labels=r["labels"],
            tanks=list(layout.tank_product),
        )
        periods.append(period)
        all_trials += mine
        outcomes += [score.judge_trial(t, alarms, evaluated_from_ms=start) for t in mine]
    fa = score.false_alarms(periods, all_trials, alarms)
    unmeasured = sorted(
        {
            o.trial.kind
            for o in outcomes
            if (kinds is not None and o.trial.kind not in kinds)
            or (
                evaluated is not None
                and not (score.EXPECTATIONS[o.trial.kind].categories & evaluated)
            )
        }
    )
    outcomes = [o for o in outcomes if o.trial.kind not in unmeasured]
    return {
        "unmeasured": unmeasured,
        "trials": all_trials,
        "periods": periods,
        "outcomes": outcomes,
        "rows": score.rows(outcomes),
        "fa": fa,
        "pfa": score.leak_pfa(periods, alarms),
        "verdicts": judge_targets(outcomes),
    }


def render(
    scored: dict[str, Any],
    *,
    meta: dict[str, Any],
    drive_stats: DriveStats | None,
    missing_engine: str | None,
) -> str:
    """``meta``: what ran (when, machine, sizes, steps, which rules)."""
    fa: score.FalseAlarms = scored["fa"]
    hit, tanks = scored["pfa"]
    lines = [
        f"### Run: {meta['run']}",
        "",
        (
            f"Run {meta['when']} on {meta['machine']}: {meta['stations']} stations, "
            f"{meta['station_days']:.0f} station-days ({meta['station_days'] / 30:.1f} station-months), "
            f"{meta['records']:,} gateway records through gateway → Mosquitto → ingest → InfluxDB in "
            f"{meta['load_s']:.0f} s ({meta['rejected']} rejected); inventory every "
            f"{meta['inventory_interval_s']} s; engine stepped every {meta['step']} from "
            f"{meta['eval_from']} after the start."
        ),
        "",
    ]
    if meta.get("rules"):
        lines += [f"Rules evaluated every {meta['step']}: {meta['rules']}.", ""]
    if meta.get("slow_rules"):
        lines += [
            (
                f"Rules evaluated only every {meta['slow_step']} (their own schedule is finer; "
                f"too costly to run on it here, see below): {meta['slow_rules']}."
            ),
            "",
        ]
    if meta.get("skipped_rules"):
        lines += [f"Rules **not evaluated**: {meta['skipped_rules']}.", ""]
    if scored["unmeasured"]:
        lines += [
            "Classes **not measured** (no rule that detects them ran): "
            + ", ".join(scored["unmeasured"])
            + ".",
            "",
        ]
    if missing_engine:
        lines += [
            (
                f"**Not measured: {missing_engine}.** The harness loaded and labelled the data; "
                "no rule engine evaluated it, so every Pd below is 0 by construction."
            ),
            "",
        ]
    if drive_stats is not None:
        errors = ", ".join(f"{k} ×{v}" for k, v in drive_stats.errors.most_common()) or "none"
        lines += [
            (
                f"Engine: {drive_stats.steps:,} steps, {drive_stats.evaluations:,} rule evaluations "
                f"in {drive_stats.wall_s:.0f} s; rule errors: {errors}."
            ),
            "",
        ]
        for rule, err in drive_stats.first_errors.items():
            lines.append(f"- `{rule}` first error: {err}")
        if drive_stats.first_errors:
            lines.append("")
    lines += [
        "#### Per target",
        "",
        "| target | result | detail |",
        "|---|---|---|",
    ]
    for v in scored["verdicts"]:
        if missing_engine:
            result = "not measured"
        elif v.passed is None:
            result = "no trial"
        else:
            result = "**pass**" if v.passed else "**MISS**"
        lines.append(f"| {v.target} | {result} | {v.note} |")

    def verdict(ok: bool) -> str:
        if missing_engine:
            return "not measured"
        return "**pass**" if ok else "**MISS**"

    partial = " (rules evaluated in this run only)" if meta.get("skipped_rules") else ""
    lines.append(
        f"| overall false alarms ≤ 1 per 100 clean station-days{partial} | "
        f"{verdict(fa.per_100_days <= 1.0)} | {fa.count} in {fa.clean_days:.0f} clean "
        f"station-days = {fa.per_100_days:.2f} per 100 |"
    )
    pfa = hit / tanks if tanks else float("nan")
    recon_ran = "inventory_reconciliation" in meta.get("categories", ["inventory_reconciliation"])
    lines.append(
        f"| leak Pfa ≤ 5 % (clean tank-months with a reconciliation alarm) | "
        f"{verdict(pfa <= 0.05) if recon_ran else 'not measured'} | {hit}/{tanks} = {pfa:.0%} |"
    )
    lines += ["", "#### Per class and magnitude", "", kind_table(scored["rows"]), ""]
    lines += ["#### Per category", "", category_table(scored["outcomes"], fa), ""]
    if ran_costs := meta.get("costs"):
        lines += [
            "#### Engine cost per rule (this run)",
            "",
            "| rule | evaluations | mean ms | total s |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{rule}` | {n} | {ms / n:,.0f} | {ms / 1000:,.0f} |" for rule, n, ms in ran_costs
        ]
        lines.append("")
    lines += ["#### False alarms by rule", ""]
    if fa.by_rule:
        lines += ["| rule | false alarms |", "|---|---|"]
        lines += [f"| `{k}` | {v} |" for k, v in fa.by_rule.most_common()]
    else:
        lines.append("None in clean time.")
    lines += [
        "",
        f"Unexplained alarms on fraud stations after their first injection (not in the rate): "
        f"{fa.unexplained_after}"
        + (
            " (" + ", ".join(f"{k} {v}" for k, v in fa.unexplained_by_category.most_common()) + ")"
            if fa.unexplained_after
            else ""
        )
        + ".",
        "",
    ]
    return "\n".join(lines)


def write_doc(report: str, run: str) -> None:
    """Replace this run's block (``full`` or ``quick``) in docs/detection.md."""
    record(f"bench/detection.py {run}", report, DOC)


# -- the run ----------------------------------------------------------------------------------


def clear_warnings(sessions: Any) -> None:
    with sessions.begin() as session:
        for model in (WarningAttachment, WarningComment, WarningEvent, Warning_):
            session.query(model).delete()


def provision(
    specs: list[StationSpec], state: Path, sessions: Any, files: Any
) -> dict[str, Bundle]:
    bundles = {}
    for spec in specs:
        b = provision_gateway(
            sessions,
            district=spec.scenario["station"]["district"],
            station=spec.id,
            gateway=f"gw-{spec.id}",
            out_dir=state / "gw" / spec.id,
            password_file=files.password_file,
            mqtt_port=files.port,
            station_name=spec.scenario["station"]["name"],
        )
        data = yaml.safe_load(b.config_file.read_text(encoding="utf-8"))
        data["devices"] = []
        data["spool"]["synchronous"] = "normal"
        b.config_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        bundles[spec.id] = b
    return bundles


async def run(args: argparse.Namespace) -> None:
    cfg = (
        MatrixConfig.quick(inventory_interval_s=args.inventory_interval, seed=args.seed)
        if args.quick
        else MatrixConfig(inventory_interval_s=args.inventory_interval, seed=args.seed)
    )
    specs = build_matrix(cfg)
    state = Path(args.state) if args.state else Path(tempfile.mkdtemp(prefix="fw-detect-"))
    state.mkdir(parents=True, exist_ok=True)
    (state / "logs").mkdir(exist_ok=True)
    loaded_file, alarms_file = state / "loaded.json", state / "alarms.json"
    station_days = sum(s.days for s in specs) - len(specs) * args.eval_from.total_seconds() / 86400
    say(
        f"state in {state}; {len(specs)} stations, {sum(s.days for s in specs)} station-days; "
        f"{os.cpu_count()} CPU(s)"
    )
    missing = engine_available()
    if args.rescore:
        loaded = json.loads(loaded_file.read_text(encoding="utf-8"))
        saved: list[score.Alarm] = (
            [score.Alarm(**a) for a in json.loads(alarms_file.read_text(encoding="utf-8"))]
            if alarms_file.exists()
            else []
        )
        if not alarms_file.exists():
            missing = missing or "no engine run saved in this state folder"
        drive_file = state / "drive.json"
        ran = json.loads(drive_file.read_text(encoding="utf-8")) if drive_file.exists() else None
        saved_stats = stats_from_json(ran) if ran else None
        finish(args, specs, loaded, saved, saved_stats, missing, station_days, ran)
        return

    procs: list[ManagedProcess] = []
    influx, url = start_influx(state / "influx")
    procs.append(influx)
    try:
        registry_url = args.registry_url or f"sqlite:///{state / 'registry.db'}"
        engine = make_engine(registry_url)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        if loaded_file.exists():
            say("data already loaded in this state folder: re-running the engine only")
            loaded = json.loads(loaded_file.read_text(encoding="utf-8"))
            shutil.rmtree(state / "broker", ignore_errors=True)
            broker, files = start_broker(state / "broker")
            procs.append(broker)
            clear_warnings(sessions)
        else:
            from fuelwatch.stack.broker import render_broker  # noqa: PLC0415
            from fuelwatch.stack.process import free_port  # noqa: PLC0415

            files = render_broker(
                state / "broker",
                port=free_port(),
                cloud_user=CLOUD_USER,
                cloud_password=CLOUD_PASSWORD,
            )
            bundles = provision(specs, state, sessions, files)
            broker, files = start_broker(state / "broker", files)
            procs.append(broker)
            env = cloud_env(registry_url=registry_url, influx_url=url, mqtt_port=files.port)
            ingest = ingest_process(state / "logs", env).start()
            procs.append(ingest)
            settings = cloud_settings(registry_url, url, files.port, state)
            loader = Loader(args, state, specs)
            say("registering stations, tanks, dispensers and department data through the API")
            await loader.register(sessions, settings, engine)
            cpu0 = {p.name: cpu_seconds(p.pid) for p in procs}
            say(
                f"simulating {len(specs)} stations with {args.workers} worker(s) and draining spools"
            )
            stats = await loader.load(bundles, url)
            stats["cpu"] = {p.name: cpu_seconds(p.pid) - cpu0.get(p.name, 0) for p in procs}
            await loader.api.aclose()
            loaded = {
                "stats": stats,
                "inventory_interval_s": cfg.inventory_interval_s,
                "results": {
                    sid: {k: v for k, v in r.items() if k != "waybills"}
                    for sid, r in loader.results.items()
                },
            }
            loaded_file.write_text(json.dumps(loaded), encoding="utf-8")
        alarms: list[score.Alarm] = []
        drive_stats = None
        if missing:
            say(f"NOT evaluating: {missing}")
        else:
            settings = cloud_settings(registry_url, url, files.port, state)
            rules, slow, skipped, evaluated = rule_sets(args)
            first = min(r["start_ms"] for r in loaded["results"].values())
            last = max(r["end_ms"] for r in loaded["results"].values())
            start = datetime.fromtimestamp(first / 1000, UTC) + args.eval_from
            end = datetime.fromtimestamp(last / 1000, UTC)
            say(
                f"driving the rule engine from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC every {args.step}"
            )
            t_report = [time.perf_counter()]

            def progress(now: datetime, st: DriveStats) -> None:
                if time.perf_counter() - t_report[0] >= 15:
                    t_report[0] = time.perf_counter()
                    say(
                        f"engine at {now:%Y-%m-%d %H:%M}: {st.steps} steps, "
                        f"{sum(st.fired.values())} firings, {sum(st.errors.values())} errors"
                    )

            drive_stats = await drive(
                settings,
                start=start,
                end=end,
                step=args.step,
                rules=rules,
                slow=slow,
                slow_step=args.slow_step,
                progress=progress,
            )
            alarms = read_alarms(sessions)
            alarms_file.write_text(json.dumps([asdict(a) for a in alarms]), encoding="utf-8")
            (state / "drive.json").write_text(
                json.dumps(
                    {
                        "steps": drive_stats.steps,
                        "wall_s": drive_stats.wall_s,
                        "fired": drive_stats.fired,
                        "errors": drive_stats.errors,
                        "first_errors": drive_stats.first_errors,
                        "rule_ms": drive_stats.rule_ms,
                        "runs": drive_stats.runs,
                        "rules": [d.id for d in rules],
                        "step": _fmt_td(args.step),
                        "slow_step": _fmt_td(args.slow_step),
                        "slow_rules": [d.id for d in slow],
                        "skipped_rules": skipped,
                        "categories": sorted(evaluated),
                    }
                ),
                encoding="utf-8",
            )
        ran = (
            json.loads((state / "drive.json").read_text(encoding="utf-8"))
            if drive_stats is not None
            else None
        )
        finish(args, specs, loaded, alarms, drive_stats, missing, station_days, ran)
    finally:
        for p in reversed(procs):
            p.stop()


def rule_sets(args: argparse.Namespace) -> tuple[list[Any], list[Any], list[str], set[str]]:
    """(rules on --step, slow rules on --slow-step, ids not evaluated, categories evaluated)."""
    skip = _patterns(args.skip_rules)
    slow = select_rules(_patterns(args.slow_rules), skip) if args.slow_rules else []
    rules = select_rules(_patterns(args.rules), skip + _patterns(args.slow_rules))
    ran = {d.id for d in rules + slow}
    skipped = [d.id for d in select_rules([], []) if d.id not in ran]
    return rules, slow, skipped, {str(d.category) for d in rules + slow}


def _patterns(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def cloud_settings(
    registry_url: str, influx_url: str, mqtt_port: int, state: Path
) -> CloudSettings:
    return CloudSettings(
        environment="test",
        state_dir=state / "cloud",
        registry_url=registry_url,
        influx_url=influx_url,
        influx_db="fuelwatch",
        mqtt=MqttEndpoint(port=mqtt_port, username=CLOUD_USER, password=CLOUD_PASSWORD),
    )


def finish(
    args: argparse.Namespace,
    specs: list[StationSpec],
    loaded: dict[str, Any],
    alarms: list[score.Alarm],
    drive_stats: DriveStats | None,
    missing: str | None,
    station_days: float,
    ran: dict[str, Any] | None = None,
) -> None:
    """``ran``: the rules the engine evaluated (drive.json)."""
    evaluated = set(ran["categories"]) if ran else None
    kinds = set(_patterns(args.score_kinds)) if args.score_kinds else None
    scored = score_run(specs, loaded["results"], alarms, args.eval_from, evaluated, kinds)
    stats = loaded["stats"]
    meta = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "run": args.block or ("quick (--quick)" if args.quick else "full matrix"),
        "machine": f"this machine ({os.cpu_count()} cores, {platform.system()}, Python {platform.python_version()})",
        "stations": len(specs),
        "station_days": station_days,
        "records": stats["records"],
        "load_s": stats["wall_s"],
        "rejected": stats["rejected"],
        "inventory_interval_s": loaded.get("inventory_interval_s", 60),
        "step": (ran or {}).get("step") or _fmt_td(args.step),
        "eval_from": _fmt_td(args.eval_from),
        "slow_step": (ran or {}).get("slow_step") or _fmt_td(args.slow_step),
        "rules": ", ".join(f"`{r}`" for r in (ran or {}).get("rules", [])),
        "slow_rules": ", ".join(f"`{r}`" for r in (ran or {}).get("slow_rules", [])),
        "skipped_rules": ", ".join(f"`{r}`" for r in (ran or {}).get("skipped_rules", [])),
        "costs": _costs(ran),
        "categories": (ran or {}).get("categories", ["inventory_reconciliation"]),
    }
    report = render(scored, meta=meta, drive_stats=drive_stats, missing_engine=missing)
    print(report, flush=True)
    if args.record:
        write_doc(report, args.block or ("quick" if args.quick else "full"))


def _costs(ran: dict[str, Any] | None) -> list[tuple[str, int, float]]:
    """(rule, evaluations, total ms), costliest first, from drive.json."""
    if not ran or "runs" not in ran:
        return []
    runs, total = ran["runs"], ran.get("rule_ms", {})
    rows = [(rule, int(n), float(total.get(rule, 0))) for rule, n in runs.items() if n]
    return sorted(rows, key=lambda r: -r[2])


def _fmt_td(td: timedelta) -> str:
    minutes = int(td.total_seconds() // 60)
    d, rest = divmod(minutes, 1440)
    h, m = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((d, "d"), (h, "h"), (m, "m")) if v) or "0m"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="9 stations x 10 days: a smoke run")
    ap.add_argument("--record", action="store_true", help="write the result into docs/detection.md")
    ap.add_argument("--state", help="state folder to keep (and reuse: engine-only re-run)")
    ap.add_argument(
        "--rescore", action="store_true", help="only re-score the alarms saved in --state"
    )
    ap.add_argument(
        "--step", type=parse_duration, default=parse_duration("15m"), help="engine clock step"
    )
    ap.add_argument(
        "--eval-from",
        type=parse_duration,
        default=parse_duration("1d"),
        help="start the engine this long after the data starts (daily windows full)",
    )
    ap.add_argument("--rules", help="only these rule ids (comma-separated fnmatch patterns)")
    ap.add_argument("--skip-rules", help="not these rule ids (patterns)")
    ap.add_argument("--slow-rules", help="these rules only every --slow-step (patterns)")
    ap.add_argument(
        "--slow-step",
        type=parse_duration,
        default=parse_duration("6h"),
        help="step of --slow-rules",
    )
    ap.add_argument(
        "--score-kinds",
        help="score only these injection kinds (the others: not measured), e.g. when the "
        "rules run cover only part of a category",
    )
    ap.add_argument(
        "--block", help="name of this run's block in docs/detection.md (default: full / quick)"
    )
    ap.add_argument("--inventory-interval", type=int, default=60, help="gauge readings, s")
    ap.add_argument("--workers", type=int, default=2, help="simulator processes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--registry-url", help="registry database (default: SQLite in the state folder)"
    )
    args = ap.parse_args()
    if args.rescore and not args.state:
        ap.error("--rescore needs --state")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
