"""Keep every station's state up to date: read only what is new, persist, resume.

At each engine run ``advance(now)`` reads, per batch of stations, the raw points of
``(fed − margin, now − lag]`` (the margin re-reads what arrived a little late; each stored point
is applied once, by its identity), or from the station's last gauge reading when its gateway
went quiet (its spool may still arrive, oldest first). Each point is read once in normal
operation, so the cost is proportional to the data, not to the windows × evaluations of the
rules.

The state is saved in the registry (``rule_state``, one row per station) every
``save_every_ms`` of feed time and when the engine closes; a restarted engine loads it and
reads only what came since. A station without saved state starts ``start_span_ms`` back (3
days: the over-registration window) and gets its daily sales from the downsampled series.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.rules.facts import Facts
from fuelwatch.cloud.rules.state.backfill import backfill_daily
from fuelwatch.cloud.rules.state.persist import dump_station, load_station
from fuelwatch.cloud.rules.state.source import read_points
from fuelwatch.cloud.rules.state.station import DEFER_MS, HOLD_MS, StationState
from fuelwatch.cloud.rules.state.tank import HOUR_MS, TankParams
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.cloud.store.models.rules import RuleState
from fuelwatch.core.timeutil import utcnow
from fuelwatch.core.volume import expansion_of

__all__ = ["FeedStats", "StateKeeper"]

LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class FeedStats:
    requests: int = 0
    points: int = 0
    duplicates: int = 0
    saves: int = 0
    loaded: int = 0
    backfilled: int = 0  # daily sales rows from the downsampled series


@dataclass(slots=True)
class StateKeeper:
    influx: InfluxClient
    sessions: sessionmaker[Session]
    params: TankParams = field(default_factory=TankParams)
    lag_ms: int = 60_000
    margin_ms: int = 5 * 60_000
    batch: int = 25
    start_span_ms: int = 3 * 24 * HOUR_MS + HOUR_MS  # the longest raw window a rule fits
    save_every_ms: int = 6 * HOUR_MS  # a crash re-reads at most this much raw data
    persist: bool = True
    hold_ms: int = HOLD_MS
    states: dict[str, StationState] = field(default_factory=dict)
    fed: dict[str, int] = field(default_factory=dict)
    seen: dict[str, dict[tuple[Any, ...], int]] = field(default_factory=dict)
    stats: FeedStats = field(default_factory=FeedStats)
    _saved_at: int = 0
    _loaded: bool = False
    _resumed: set[str] = field(default_factory=set)
    _new: set[str] = field(default_factory=set)

    @property
    def horizon(self) -> int:
        return min((s.horizon for s in self.states.values()), default=0)

    def _station(self, facts: Facts, sid: str) -> StationState:
        fact = facts.stations[sid]
        nozzle_tank = {n.nozzle: n.tank for n in fact.nozzles.values()}
        tank_product = {t.tank: t.product for t in fact.tanks.values()}
        state = self.states.get(sid)
        if state is None:
            state = self.states[sid] = StationState(sid, nozzle_tank, tank_product)
            self._new.add(sid)
        state.hold_ms = self.hold_ms
        state.nozzle_tank, state.tank_product = nozzle_tank, tank_product
        return state

    def _load(self, facts: Facts) -> None:
        self._loaded = True
        if not self.persist:
            return
        with self.sessions() as session:
            for row in session.scalars(select(RuleState)):
                if row.station_id not in facts.stations:
                    continue
                try:
                    state = load_station(orjson.loads(row.data), self.params)
                except (KeyError, TypeError, ValueError) as exc:
                    LOGGER.warning("rule state of %s unreadable, rebuilt: %s", row.station_id, exc)
                    continue
                self.states[row.station_id] = state
                self.fed[row.station_id] = row.fed_ms
                self._resumed.add(row.station_id)  # its last margin was applied already
                self.stats.loaded += 1

    def reset(self) -> None:
        """Forget everything (a clock set back before what was read)."""
        self.states.clear()
        self.fed.clear()
        self.seen.clear()
        self._resumed.clear()
        self._new.clear()
        self._saved_at = 0
        if self.persist:
            with self.sessions.begin() as session:
                session.execute(delete(RuleState))

    async def advance(self, now_ms: int, facts: Facts) -> int:
        """Read and apply everything up to ``now_ms − lag``; returns that feed horizon."""
        if not self._loaded:
            self._load(facts)
        end = now_ms - self.lag_ms
        if self.fed and end < max(self.fed.values()) - self.margin_ms:
            self.reset()
        starts: dict[int, list[str]] = defaultdict(list)
        for sid in sorted(facts.stations):
            state = self._station(facts, sid)
            fed = self.fed.get(sid, end - self.start_span_ms)
            if fed >= end:
                continue
            resumed = sid in self._resumed
            self._resumed.discard(sid)
            start = fed - self.margin_ms if sid in self.fed and not resumed else fed
            quiet_since = state.last_reading
            if (
                quiet_since
                and quiet_since < start
                and end - quiet_since < DEFER_MS + self.margin_ms
            ):
                start = quiet_since  # the gateway's spool may still deliver the gap
            starts[start].append(sid)
        expansion = {
            t.product: expansion_of(t.product)
            for f in facts.stations.values()
            for t in f.tanks.values()
        }
        for start, sids in sorted(starts.items()):
            for i in range(0, len(sids), self.batch):
                chunk = sids[i : i + self.batch]
                fresh = [s for s in chunk if s in self._new]
                if fresh:  # the long memory of a station seen for the first time
                    self.stats.backfilled += await backfill_daily(
                        self.influx,
                        {s: self.states[s] for s in fresh},
                        facts.station_filter(fresh),
                        start,
                    )
                    self._new.difference_update(fresh)
                points = await read_points(
                    self.influx, facts.station_filter(chunk), start, end, expansion
                )
                self.stats.requests += 1
                for sid in chunk:
                    self._feed(sid, points.get(sid, []), start)
                    self.fed[sid] = end
        for sid in facts.stations:
            self.states[sid].advance(end)
        if self.persist and end - self._saved_at >= self.save_every_ms:
            self.save()
            self._saved_at = end
        return end

    def _feed(self, sid: str, points: list[tuple[str, Any]], start: int) -> None:
        state = self.states[sid]
        seen = self.seen.setdefault(sid, {})
        for kind, p in sorted(points, key=lambda kp: kp[1].t):
            key = (kind, p.t, p.rid, getattr(p, "tank", None), getattr(p, "nozzle", None))
            if key in seen:
                self.stats.duplicates += 1
                continue
            seen[key] = p.t
            self.stats.points += 1
            state.add(kind, p, self.params)
        cutoff = start - self.margin_ms
        if len(seen) > 2000:
            self.seen[sid] = {k: t for k, t in seen.items() if t > cutoff}

    def save(self) -> None:
        if not self.persist or not self.states:
            return
        at = utcnow()
        with self.sessions.begin() as session:
            for sid, state in self.states.items():
                data = orjson.dumps(dump_station(state), option=orjson.OPT_SERIALIZE_NUMPY)
                row = session.get(RuleState, sid)
                if row is None:
                    session.add(
                        RuleState(
                            station_id=sid, fed_ms=self.fed.get(sid, 0), data=data, saved_at=at
                        )
                    )
                else:
                    row.fed_ms, row.data, row.saved_at = self.fed.get(sid, 0), data, at
        self.stats.saves += 1
