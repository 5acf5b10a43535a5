"""The reconciliation chart: the daily book-vs-gauge rule's own numbers, day by day.

Nothing about reconciliation is computed here. For each calendar day (Beijing time) the
station's tanks are followed by the rule engine's own running state (``StateKeeper`` and
``TankModel``, fed the raw points once, in time order) and judged at the day's end by the
``reconciliation.daily_variance`` rule's own numbers (``book_numbers``, what its detector
``book_variance`` fires on): book, gauged volume, variance, and the allowance with the
thresholds in force (the operator's, from the rules table) — the legal bands of meters and
documents plus z(alpha) standard errors of the gauge.

The state starts ``WARMUP`` before the first day shown (the rule's 3-day fit and the gauge's
noise need history). The followed state of the last stations viewed is kept in memory, so a
station viewed again reads only the points that arrived since; the numbers of days that are over
are kept with it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.rules.definition import RuleDefinition, load_definitions
from fuelwatch.cloud.rules.detectors.wetstock import THERMAL_FRACTION, BookNumbers, book_numbers
from fuelwatch.cloud.rules.facts import Facts, load_facts
from fuelwatch.cloud.rules.state.keeper import StateKeeper
from fuelwatch.cloud.rules.state.regression import normal_quantile
from fuelwatch.cloud.rules.state.tank import HOUR_MS
from fuelwatch.cloud.rules.store import RuleError, get_rule
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError

__all__ = ["RULE_ID", "WARMUP_MS", "DayVariance", "daily_variances"]

RULE_ID = "reconciliation.daily_variance"
DAY_MS = 24 * HOUR_MS
WARMUP_MS = 3 * DAY_MS  # the rule's fit window before a day's end
KEEP_SECONDS = 3600.0  # a station not viewed for this long is forgotten
KEEP_STATIONS = 20


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


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass(slots=True)
class _Followed:
    """One station's running state, and the numbers of the days judged with it."""

    keeper: StateKeeper
    since_ms: int  # the state was started here
    at_ms: int = 0  # and fed up to here
    days: dict[int, dict[int, BookNumbers]] = field(default_factory=dict)  # day end -> tank
    used: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_FOLLOWED: dict[str, _Followed] = {}


def _followed(influx: InfluxClient, session: Session, station: str, since_ms: int) -> _Followed:
    now = time.monotonic()
    for sid, f in list(_FOLLOWED.items()):
        if now - f.used > KEEP_SECONDS:
            del _FOLLOWED[sid]
    found = _FOLLOWED.get(station)
    if found is not None and found.since_ms <= since_ms:
        found.used = now
        found.keeper.influx = influx  # this request's client (the last one is closed)
        return found
    if found is None and len(_FOLLOWED) >= KEEP_STATIONS:
        del _FOLLOWED[min(_FOLLOWED, key=lambda s: _FOLLOWED[s].used)]
    keeper = StateKeeper(
        influx=influx,
        sessions=sessionmaker(bind=session.get_bind()),  # not used: nothing is saved
        persist=False,
        lag_ms=0,
        hold_ms=0,
    )
    _FOLLOWED[station] = made = _Followed(keeper, since_ms)
    return made


async def _judge(
    followed: _Followed, facts: Facts, windows: list[tuple[int, int]], thermal: float
) -> None:
    """Feed the state up to each window's end and keep that day's numbers per tank."""
    keeper = followed.keeper
    for start, end in windows:
        if end in followed.days:
            continue
        if end < followed.at_ms:  # fed past it already (another request's today): refeed
            raise _Refeed
        keeper.start_span_ms = end - followed.since_ms
        await keeper.advance(end, facts)
        followed.at_ms = end
        state = keeper.states.get(next(iter(facts.stations)))
        numbers: dict[int, BookNumbers] = {}
        for tank, model in sorted(state.tanks.items()) if state else ():
            fit = functools.partial(model.fit, end - WARMUP_MS, end)
            found = book_numbers(model, start, end, thermal=thermal, fit=fit)
            if found is not None:
                numbers[tank] = found
        followed.days[end] = numbers


class _Refeed(Exception):
    """The followed state is past a day still to be judged: start it again."""


async def daily_variances(
    influx: InfluxClient, session: Session, station: str, days: list[tuple[datetime, datetime]]
) -> tuple[list[DayVariance], dict[str, Any]]:
    """Per tank and day (``(start, end)`` windows, oldest first): the rule's variance and
    allowance, and the thresholds in force."""
    d = _definition()
    thresholds = _thresholds(session, d)
    facts = load_facts(session)
    if station not in facts.stations or not days:
        return [], thresholds
    one = Facts(stations={station: facts.stations[station]})
    windows = [(_ms(a), _ms(b)) for a, b in days]
    since = windows[0][0] - WARMUP_MS
    thermal = float(d.options.get("thermal_fraction", THERMAL_FRACTION))
    for attempt in (1, 2):
        followed = _followed(influx, session, station, since)
        async with followed.lock:
            try:
                await _judge(followed, one, windows, thermal)
            except _Refeed:
                _FOLLOWED.pop(station, None)
                if attempt == 2:
                    raise
                continue
            except InfluxError as exc:
                _FOLLOWED.pop(station, None)
                if "database not found" in str(exc):
                    return [], thresholds
                raise
            numbers = {end: followed.days[end] for _, end in windows}
            start, end = windows[-1]
            if end - start < DAY_MS:  # today, judged up to now: the next view judges a later now
                del followed.days[end]
            break
    mpe = float(thresholds["meter_mpe_percent"]) / 100
    doc = float(thresholds["document_mpe_percent"]) / 100
    z = normal_quantile(1 - float(thresholds["alpha"]) / 2)
    out: list[DayVariance] = []
    for (_, end), (_, day_end) in zip(windows, days, strict=True):
        for tank, n in numbers[end].items():
            v = n.variance
            opening, closing = v["opening"], v["closing"]
            out.append(
                DayVariance(
                    tank=tank,
                    day_end=day_end,
                    book_l20=opening[2] + v["declared_l20"] - v["sold_l20"],
                    gauged_l20=closing[2],
                    variance_l20=v["variance_l20"],
                    sales_l20=v["sold_l20"],
                    allowed_l20=n.band(mpe, doc) + z * n.sd,
                )
            )
    out.sort(key=lambda x: (x.tank, x.day_end))
    return out, thresholds
