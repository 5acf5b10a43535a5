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
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import (  # noqa: E402
    CLOUD_PASSWORD,
    CLOUD_USER,
    cloud_env,
    cpu_seconds,
    ingest_process,
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
from bench.detect.load import Loader, clear_warnings, provision, say  # noqa: E402
from bench.detect.matrix import MatrixConfig, StationSpec, build_matrix  # noqa: E402
from bench.detect.report import category_table, kind_table  # noqa: E402
from bench.detect.roc import roc_table  # noqa: E402
from bench.detect.scoring import score_run  # noqa: E402
from bench.report import record  # noqa: E402
from fuelwatch.cloud.common.settings import CloudSettings, MqttEndpoint  # noqa: E402
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from fuelwatch.stack.process import ManagedProcess  # noqa: E402

DOC = ROOT / "docs" / "detection.md"


def parse_duration(text: str) -> timedelta:
    m = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?", text.strip())
    if not m or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"{text!r}: use e.g. 15m, 1h, 1d")
    d, h, mins = (int(g or 0) for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mins)


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
    if meta.get("cut"):
        lines += [
            (
                f"**The engine run was cut at {meta['cut']}** (simulated clock): scored are the "
                "alarms it raised up to then, the clean time before it, and the trials whose "
                "horizon ended before it; later trials are left out, not counted as missed. "
                "Per-rule costs and the ROC need the whole run and are not given."
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
        lines += ["| rule | false alarms | per 100 clean station-days |", "|---|---|---|"]
        lines += [
            f"| `{k}` | {v} | {100 * v / fa.clean_days:.2f} |" for k, v in fa.by_rule.most_common()
        ]
    else:
        lines.append(f"None in {fa.clean_days:.0f} clean station-days.")
    if meta.get("scores"):
        lines += [
            "",
            "#### ROC of the wetstock rules (bench/detect/roc.py)",
            "",
            roc_table(meta["scores"], scored["trials"], scored["periods"]),
        ]
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
            if alarms_file.exists() and not args.cut
            else []
        )
        if args.cut:  # a run cut short: its alarms are in the registry, its stats are not
            cut_engine = make_engine(f"sqlite:///{state / 'registry.db'}")
            saved = read_alarms(make_sessionmaker(cut_engine))
            cut_engine.dispose()
        elif not alarms_file.exists():
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
            (state / "scores.json").write_text(json.dumps(drive_stats.scores), encoding="utf-8")
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
    scores_file = Path(args.state) / "scores.json" if args.state else None
    scores = (
        json.loads(scores_file.read_text(encoding="utf-8"))
        if scores_file is not None and scores_file.exists()
        else (drive_stats.scores if drive_stats is not None else {})
    )
    evaluated = set(ran["categories"]) if ran else None
    kinds = set(_patterns(args.score_kinds)) if args.score_kinds else None
    until = int(datetime.fromisoformat(args.cut).timestamp() * 1000) if args.cut else None
    scored = score_run(
        specs, loaded["results"], alarms, args.eval_from, evaluated, kinds, until_ms=until
    )
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
        "scores": scores,
        "cut": args.cut,
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
    ap.add_argument(
        "--cut",
        help="with --rescore: the engine run was cut at this ISO time (the registry's alarms, "
        "clean time and trials up to it)",
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
