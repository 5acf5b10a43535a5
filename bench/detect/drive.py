"""Drive the rule engine over stored history on a simulated clock, then read its alarms.

The engine (``fuelwatch.cloud.rules.engine.RuleEngine``, the rules issue's contract) queries only data
with time <= ``now``, so stepping ``now`` forward over a month already in InfluxDB is causal:
at each step it sees what it would have seen live. ``run_due(now)`` evaluates the rules
whose own schedule is due; the bench steps at least as finely as the finest schedule.

Alarms are read back from the registry's warning trail: each ``opened`` or ``recurred``
event (at = the evaluation clock) is an onset, ended by the next ``cleared``.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatch
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench.detect.roc import ROC_RULES
from bench.detect.score import Alarm
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.store.models.warnings import Warning_, WarningEvent
from fuelwatch.cloud.warnings.service import ENGINE_ACTOR

__all__ = [
    "DriveStats",
    "drive",
    "engine_available",
    "read_alarms",
    "select_rules",
    "stats_from_json",
]

LOGGER = logging.getLogger(__name__)


def engine_available() -> str | None:
    """None when ``fuelwatch.cloud.rules.engine.RuleEngine`` can be imported, else why not."""
    try:
        module = importlib.import_module("fuelwatch.cloud.rules.engine")
    except ImportError as exc:
        return f"fuelwatch.cloud.rules.engine cannot be imported ({exc})"
    if not hasattr(module, "RuleEngine"):
        return "fuelwatch.cloud.rules.engine has no RuleEngine"
    return None


@dataclass(slots=True)
class DriveStats:
    steps: int = 0
    evaluations: int = 0
    wall_s: float = 0.0
    fired: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    first_errors: dict[str, str] = field(default_factory=dict)
    rule_ms: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)
    #: rule -> [evaluation ms, station, subject, score] of the ROC rules (bench/detect/roc.py)
    scores: dict[str, list[list[Any]]] = field(default_factory=dict)


def stats_from_json(data: dict[str, Any]) -> DriveStats:
    """The DriveStats a run saved (drive.json), for re-scoring without re-running."""
    return DriveStats(
        steps=int(data.get("steps", 0)),
        evaluations=int(sum((data.get("runs") or {}).values())),
        wall_s=float(data.get("wall_s", 0.0)),
        fired=Counter(data.get("fired") or {}),
        errors=Counter(data.get("errors") or {}),
        first_errors=dict(data.get("first_errors") or {}),
        rule_ms=Counter(data.get("rule_ms") or {}),
        runs=Counter(data.get("runs") or {}),
    )


def _results(report: Any) -> list[Any]:
    """The per-rule results of an EvaluationReport, whatever the container is called."""
    for name in ("results", "rules", "evaluations", "items"):
        value = getattr(report, name, None)
        if value is not None:
            return list(value.values() if isinstance(value, dict) else value)
    try:
        return list(report)
    except TypeError:
        return []


def _account(stats: DriveStats, report: Any) -> None:
    now_ms = int(report.now.timestamp() * 1000)
    for r in _results(report):
        rule = str(getattr(r, "rule_id", None) or getattr(r, "id", None) or getattr(r, "rule", "?"))
        stats.evaluations += 1
        stats.fired[rule] += len(getattr(r, "fired", None) or [])
        stats.rule_ms[rule] += int(getattr(r, "duration_ms", 0) or 0)
        stats.runs[rule] += 1
        if rule in ROC_RULES:
            stats.scores.setdefault(rule, []).extend(
                [now_ms, station, subject, value]
                for (station, subject), value in getattr(r, "scores", {}).items()
            )
        error = getattr(r, "error", None)
        if error:
            stats.errors[rule] += 1
            stats.first_errors.setdefault(rule, str(error)[:500])


def select_rules(include: list[str], exclude: list[str]) -> list[Any]:
    """The engine's rule definitions whose id matches an ``include`` pattern (fnmatch; none
    given = all) and no ``exclude`` pattern."""
    definition = importlib.import_module("fuelwatch.cloud.rules.definition")
    rules = definition.load_definitions()
    return [
        d
        for d in rules
        if (not include or any(fnmatch(d.id, p) for p in include))
        and not any(fnmatch(d.id, p) for p in exclude)
    ]


async def drive(
    settings: CloudSettings,
    *,
    start: datetime,
    end: datetime,
    step: timedelta,
    rules: list[Any],
    slow: list[Any] | None = None,
    slow_step: timedelta | None = None,
    progress: Callable[[datetime, DriveStats], None] | None = None,
) -> DriveStats:
    """Step ``now`` from ``start`` to ``end``: ``rules`` by ``run_due`` every ``step``;
    ``slow`` rules (too costly to evaluate on their own schedule here) by ``run_due`` only
    every ``slow_step``, so on at most that clock."""
    engine_module = importlib.import_module("fuelwatch.cloud.rules.engine")
    engine = engine_module.RuleEngine.from_settings(settings, definitions=rules)
    slow_engine = (
        engine_module.RuleEngine.from_settings(settings, definitions=slow) if slow else None
    )
    stats = DriveStats()
    t0 = time.perf_counter()
    try:
        now, next_slow = start, start
        while now <= end:
            if rules:
                _account(stats, await engine.run_due(now))
            if slow_engine is not None and now >= next_slow:
                _account(stats, await slow_engine.run_due(now))
                next_slow = now + (slow_step or step)
            stats.steps += 1
            if progress is not None:
                progress(now, stats)
            now += step
    finally:
        await engine.aclose()
        if slow_engine is not None:
            await slow_engine.aclose()
        stats.wall_s = time.perf_counter() - t0
    return stats


def read_alarms(sessions: sessionmaker[Session]) -> list[Alarm]:
    """Every onset of every engine warning, with when the rule next cleared it."""
    alarms: list[Alarm] = []
    with sessions() as session:
        rows = session.execute(
            select(
                Warning_.id,
                Warning_.station_id,
                Warning_.rule_id,
                Warning_.category,
                Warning_.subject,
                WarningEvent.action,
                WarningEvent.at,
            )
            .join(WarningEvent, WarningEvent.warning_id == Warning_.id)
            .where(WarningEvent.actor == ENGINE_ACTOR)
            .order_by(Warning_.id, WarningEvent.at, WarningEvent.id)
        ).all()
    current: dict[int, Alarm] = {}
    for wid, station, rule, category, subject, action, at in rows:
        at_ms = int(at.timestamp() * 1000)
        if action in ("opened", "recurred"):
            if wid in current:
                alarms.append(current.pop(wid))
            current[wid] = Alarm(station, rule, category, subject, at_ms)
        elif action == "cleared" and wid in current:
            a = current.pop(wid)
            alarms.append(Alarm(a.station, a.rule_id, a.category, a.subject, a.at_ms, at_ms))
    alarms.extend(current.values())
    return sorted(alarms, key=lambda a: (a.at_ms, a.station, a.rule_id, a.subject))
