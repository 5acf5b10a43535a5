"""The reconciliation chart: the daily book-vs-gauge rule's own numbers, day by day.

Nothing about reconciliation is computed here. For each calendar day (Beijing time) this runs the
``reconciliation.daily_variance`` rule's own queries through its own detector
(``book_variance``) so every tank that could be judged yields its
book, gauged volume and variance (a negative allowance makes the detector report every
tank it judged); the band drawn around zero is the rule's allowance with
the thresholds in force (the operator's, from the rules table): ``variance_percent`` of the
day's sales at 20 °C plus ``variance_litres``, the same test the rule fires on.

The rule reads every gauge reading of the day (52,000 a day at the demo's rate, about a
second of work), so the station page loads this part separately; days that are over are kept
in memory for an hour, the day in progress for a minute.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fuelwatch.cloud.rules.context import RuleContext
from fuelwatch.cloud.rules.definition import RuleDefinition, load_definitions
from fuelwatch.cloud.rules.detectors import DETECTORS
from fuelwatch.cloud.rules.engine import render_query
from fuelwatch.cloud.rules.facts import Facts, load_facts
from fuelwatch.cloud.rules.store import RuleError, get_rule
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError

__all__ = ["RULE_ID", "DayVariance", "daily_variances"]

RULE_ID = "reconciliation.daily_variance"


@dataclass(frozen=True, slots=True)
class DayVariance:
    tank: int
    day_end: datetime
    book_l20: float
    gauged_l20: float
    variance_l20: float
    sales_l20: float
    allowed_l20: float  # the rule's allowance with its thresholds in force

    @property
    def over(self) -> bool:
        return abs(self.variance_l20) > self.allowed_l20


@functools.cache
def _definition() -> RuleDefinition:
    return next(d for d in load_definitions() if d.id == RULE_ID)


def _thresholds(session: Session, d: RuleDefinition) -> dict[str, Any]:
    try:
        return dict(get_rule(session, d.id).thresholds)
    except RuleError:  # the rule engine has not registered its rules yet: the defaults
        return dict(d.defaults())


#: finished days' results by (station, day start, day end, thresholds): a day that is over
#: does not change (late data aside, hence the time to live), so a station's page computes
#: its history once and afterwards only the day in progress
_CACHE: dict[tuple[str, datetime, str], tuple[float, datetime, list[DayVariance]]] = {}
CACHE_SECONDS = 3600.0  # a day that is over
TODAY_SECONDS = 60.0  # the day in progress: its numbers are at most a minute old
CACHE_ENTRIES = 5000


def _cached(key: tuple[str, datetime, str], end: datetime) -> list[DayVariance] | None:
    found = _CACHE.get(key)
    if found is None:
        return None
    at, until, rows = found
    over = until >= end  # computed for this whole window (a finished day, or today lately)
    if time.monotonic() - at > (CACHE_SECONDS if over else TODAY_SECONDS):
        return None
    return rows


def _remember(key: tuple[str, datetime, str], end: datetime, rows: list[DayVariance]) -> None:
    if len(_CACHE) >= CACHE_ENTRIES:
        _CACHE.clear()
    _CACHE[key] = (time.monotonic(), end, rows)


async def _day(
    influx: InfluxClient,
    session: Session,
    d: RuleDefinition,
    facts: Facts,
    station: str,
    window: tuple[datetime, datetime],
    thresholds: dict[str, Any],
) -> list[DayVariance]:
    start, end = window
    queries = [
        render_query(text, start=start, end=end, facts=facts, stations=[station])
        for text in d.queries.values()
    ]
    try:
        answers = await influx.query_many(";\n".join(queries))
    except InfluxError as exc:
        if "database not found" in str(exc):
            return []
        raise
    # A negative allowance: |variance| <= allowance never holds, so every tank the rule can
    # judge yields a finding with its numbers, an exact zero variance included.
    every = {**thresholds, "variance_percent": 0.0, "variance_litres": -1.0}
    pct, const = float(thresholds["variance_percent"]), float(thresholds["variance_litres"])
    ctx = RuleContext(
        rule_id=d.id,
        now=end,
        start=start,
        end=end,
        thresholds=every,
        options=d.options,
        facts=facts,
        results=dict(zip(d.queries, answers, strict=True)),
        session=session,
    )
    out = []
    for finding in DETECTORS[d.detector].fn(ctx).findings:
        v = finding.values
        sales = float(v["metered_sales_l20"])
        out.append(
            DayVariance(
                tank=int(finding.subject.split(":")[1]),
                day_end=end,
                book_l20=float(v["book_l20"]),
                gauged_l20=float(v["gauged_l20"]),
                variance_l20=float(v["variance_l20"]),
                sales_l20=sales,
                allowed_l20=pct / 100 * sales + const,
            )
        )
    return out


async def daily_variances(
    influx: InfluxClient, session: Session, station: str, days: list[tuple[datetime, datetime]]
) -> tuple[list[DayVariance], dict[str, Any]]:
    """Per tank and day (``(start, end)`` windows): the rule's variance and allowance, and the
    thresholds in force. Windows that ended before now are cached."""
    d = _definition()
    thresholds = _thresholds(session, d)
    facts = load_facts(session)
    if station not in facts.stations:
        return [], thresholds
    signature = repr(sorted(thresholds.items()))
    out: list[DayVariance] = []
    for window in days:
        key = (station, window[0], signature)
        found = _cached(key, window[1])
        if found is None:
            found = await _day(influx, session, d, facts, station, window, thresholds)
            _remember(key, window[1], found)
        out += found
    out.sort(key=lambda x: (x.tank, x.day_end))
    return out, thresholds
