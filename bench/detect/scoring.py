"""Score a run: the simulator's labels against the engine's alarms (see score.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bench.detect import score
from bench.detect.matrix import StationSpec
from bench.detect.report import judge_targets
from bench.detect.truth import Layout, station_period, trials
from fuelwatch.sim.scenario import parse_scenario

__all__ = ["score_run"]


def score_run(
    specs: list[StationSpec],
    results: dict[str, dict[str, Any]],
    alarms: list[score.Alarm],
    eval_from: timedelta,
    evaluated: set[str] | None = None,
    kinds: set[str] | None = None,
    until_ms: int | None = None,
) -> dict[str, Any]:
    """``evaluated``: categories that had a rule running (None: all); trials of a class none
    of whose categories ran are left out as not measured, not counted as missed.
    ``until_ms``: the engine ran only up to here (a cut run): clean time ends there, and a
    trial whose horizon reaches past it is left out (not judged), never counted as missed."""
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
        if until_ms is not None:
            mine = [
                t for t in mine if t.start_ms + score.EXPECTATIONS[t.kind].horizon_ms <= until_ms
            ]
        start = r["start_ms"] + int(eval_from.total_seconds() * 1000)
        period = station_period(
            spec.id,
            start_ms=start,
            end_ms=min(r["end_ms"], until_ms) if until_ms is not None else r["end_ms"],
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
