"""The rule engine: due rules → the incremental state → detector → warnings with evidence.

At each run the engine first brings every station's running state up to ``now``
(cloud/rules/state: it reads only the raw points that are new since the last run, once), then
hands each due rule's detector that state, judged up to the state's horizon (nothing after
``now`` is read, so stepping a simulated clock over stored history is causal). Each rule's
YAML queries are rendered for its window into the evidence, so anyone can re-read the raw
points; a detector that does not use the state has them run instead. It reports
what it found to ``fuelwatch.cloud.warnings.service``: ``upsert_warning`` for a finding (dedup key
rule + station + subject, on the evaluation clock), and ``resolve_warning`` for every subject the
detector judged clean. A rule that fails is logged and recorded as an error in its settings row; the
other rules still run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.rules import store
from fuelwatch.cloud.rules.context import Finding, Outcome, RuleContext, iso, ms_to_dt
from fuelwatch.cloud.rules.definition import RuleDefinition, load_definitions
from fuelwatch.cloud.rules.detectors import DETECTORS
from fuelwatch.cloud.rules.facts import Facts, load_facts
from fuelwatch.cloud.rules.state.keeper import StateKeeper
from fuelwatch.cloud.rules.state.views import state_results
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, require_schema
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError, Series
from fuelwatch.cloud.store.models.rules import Rule
from fuelwatch.cloud.store.models.warnings import Warning_
from fuelwatch.cloud.warnings.service import State, open_warning, resolve_warning, upsert_warning

__all__ = ["EvaluationReport", "RuleEngine", "RuleResult", "render_query"]

LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class RuleResult:
    rule_id: str
    fired: list[tuple[str, str]] = field(default_factory=list)
    resolved: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    duration_ms: float = 0.0
    scores: dict[tuple[str, str], float] = field(default_factory=dict)


@dataclass(slots=True)
class EvaluationReport:
    now: datetime
    results: list[RuleResult] = field(default_factory=list)

    def result(self, rule_id: str) -> RuleResult | None:
        return next((r for r in self.results if r.rule_id == rule_id), None)

    @property
    def fired(self) -> list[tuple[str, str, str]]:
        return [(r.rule_id, s, subj) for r in self.results for s, subj in r.fired]

    @property
    def errors(self) -> list[RuleResult]:
        return [r for r in self.results if r.error]


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _literal(dt: datetime) -> str:
    return "'" + dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


def _influx_duration(seconds: float) -> str:
    return f"{int(seconds)}s"


def render_query(
    template: str,
    *,
    start: datetime,
    end: datetime,
    facts: Facts,
    stations: list[str] | None = None,
    now: datetime | None = None,
) -> str:
    return template.format(
        start=_literal(start),
        end=_literal(end),
        now=_literal(now or end),
        window=_influx_duration((end - start).total_seconds()),
        station_filter=facts.station_filter(stations),
    )


class RuleEngine:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        influx: InfluxClient,
        definitions: list[RuleDefinition] | None = None,
        logger: logging.Logger | None = None,
        keeper: StateKeeper | None = None,
    ) -> None:
        self.sessions = sessions
        self.influx = influx
        self.keeper = keeper or StateKeeper(influx=influx, sessions=sessions)
        self.definitions = definitions if definitions is not None else load_definitions()
        self.log = logger or LOGGER
        self._registered = False
        self._pending: list[tuple[str, Any, dict[str, Any], float, datetime]] = []
        self._open: dict[str, set[tuple[str, str]]] = {}
        self._owned_db: Engine | None = None  # disposed on close when from_settings made it

    @classmethod
    def from_settings(cls, settings: CloudSettings, **kwargs: Any) -> Self:
        db = make_engine(settings.registry_url)
        try:
            require_schema(db)
        except Exception:
            db.dispose()
            raise
        influx = InfluxClient(
            settings.influx_url,
            settings.influx_db,
            username=settings.influx_username,
            password=settings.influx_password,
        )
        sessions = make_sessionmaker(db)
        kwargs.setdefault(
            "keeper",
            StateKeeper(
                influx=influx, sessions=sessions, hold_ms=settings.rules_hold_seconds * 1000
            ),
        )
        made = cls(sessions=sessions, influx=influx, **kwargs)
        made._owned_db = db
        return made

    async def aclose(self) -> None:
        self.keeper.save()
        await self.influx.aclose()
        if self._owned_db is not None:
            self._owned_db.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def register(self) -> None:
        """Add every rule to the settings table (an operator's thresholds are kept)."""
        with self.sessions.begin() as session:
            for d in self.definitions:
                store.register_rule(
                    session,
                    rule_id=d.id,
                    category=d.category,
                    thresholds=d.defaults(),
                    specs=d.specs(),
                    name_zh=d.name.zh,
                    name_en=d.name.en,
                    description=d.description,
                    enabled=d.enabled,
                )
        self._registered = True

    def _settings(self) -> dict[str, tuple[bool, dict[str, Any], datetime | None]]:
        if not self._registered:
            self.register()
        with self.sessions() as session:
            return {
                r.id: (r.enabled, dict(r.thresholds), r.last_evaluated_at)
                for r in store.list_rules(session)
            }

    async def run_due(self, now: datetime) -> EvaluationReport:
        """Evaluate every enabled rule whose schedule is due at ``now``."""
        settings = self._settings()

        def due(d: RuleDefinition) -> bool:
            enabled, _, last = settings[d.id]
            return enabled and (last is None or now >= last + d.every or now < last)

        return await self._run([d for d in self.definitions if due(d)], now, settings)

    async def run_all(self, now: datetime) -> EvaluationReport:
        """Evaluate every enabled rule as of ``now``, ignoring schedules."""
        settings = self._settings()
        return await self._run([d for d in self.definitions if settings[d.id][0]], now, settings)

    def next_due(self, now: datetime) -> datetime:
        """When the next rule becomes due (for the wall-clock loop)."""
        settings = self._settings()
        times = [
            (last + d.every) if last is not None and last <= now else now
            for d in self.definitions
            if settings[d.id][0]
            for last in [settings[d.id][2]]
        ]
        return min(times, default=now)

    async def _run(
        self,
        rules: list[RuleDefinition],
        now: datetime,
        settings: dict[str, tuple[bool, dict[str, Any], datetime | None]],
    ) -> EvaluationReport:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        report = EvaluationReport(now=now)
        if not rules:
            return report
        with self.sessions() as session:
            facts = load_facts(session)
        horizon: int | None = None
        state_error: str | None = None
        if any(DETECTORS[d.detector].uses_state for d in rules) and facts.stations:
            try:
                horizon = await self.keeper.advance(int(now.timestamp() * 1000), facts)
            except InfluxError as exc:  # the rules on the state cannot run; the others can
                self.log.warning("rule state at %s: %s", iso(now), exc)
                state_error = f"InfluxError: {exc}"
        cache: dict[tuple[Any, ...], Any] = {}
        self._load_uncleared()
        for d in rules:
            if state_error is not None and DETECTORS[d.detector].uses_state:
                report.results.append(RuleResult(d.id, error=state_error))
                self._pending.append((d.id, "error", {"error": state_error}, 0.0, now))
                continue
            report.results.append(
                await self._evaluate(d, now, settings[d.id][1], facts, horizon, cache)
            )
        self._record_evaluations()
        return report

    def _record_evaluations(self) -> None:
        """Every rule's last evaluation, in one transaction per run."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        with self.sessions.begin() as session:
            session.execute(
                update(Rule),
                [
                    {
                        "id": rule_id,
                        "last_evaluated_at": at,
                        "last_result": outcome,
                        "last_detail": detail,
                        "last_duration_ms": duration_ms,
                    }
                    for rule_id, outcome, detail, duration_ms, at in pending
                ],
            )

    def _load_uncleared(self) -> None:
        """(station, subject) per rule of the warnings that are open and not cleared: the only
        subjects a rule may have to resolve (one query per run)."""
        self._open = {}
        with self.sessions() as session:
            rows = session.execute(
                select(Warning_.rule_id, Warning_.station_id, Warning_.subject).where(
                    Warning_.state != State.CLOSED, Warning_.cleared_at.is_(None)
                )
            )
            for rule_id, station, subject in rows:
                self._open.setdefault(rule_id, set()).add((station, subject))

    async def _evaluate(
        self,
        d: RuleDefinition,
        now: datetime,
        thresholds: dict[str, Any],
        facts: Facts,
        horizon: int | None,
        cache: dict[tuple[Any, ...], Any],
    ) -> RuleResult:
        t0 = time.perf_counter()
        result = RuleResult(d.id)
        end = now - d.delay
        detector = DETECTORS[d.detector]
        if detector.uses_state and horizon is not None:
            # judged up to where the state is complete (the sales that cover a reading arrive
            # up to the hold after it), and for the rules that count POS rows 5 min before
            # that (a POS row follows its sale by a minute or two)
            pos = 5 * 60_000 if "pos_sales" in detector.queries else 0
            end = min(end, ms_to_dt(horizon - self.keeper.hold_ms - pos))
        start = end - d.span
        # heavy rules query a batch of stations at a time (``station_batch``); each station's
        # evidence names the statements of its own batch
        names = sorted(facts.stations)
        size = d.station_batch or max(len(names), 1)
        batches = [names[i : i + size] for i in range(0, len(names), size)]
        queries_of: dict[str, dict[str, str]] = {}
        try:
            results: dict[str, list[Series]] = {}
            for batch in batches:
                queries = {
                    name: render_query(
                        text, start=start, end=end, facts=facts, stations=batch, now=now
                    )
                    for name, text in d.queries.items()
                }
                if not detector.uses_state:
                    for name, series in (await self._query(queries)).items():
                        results.setdefault(name, []).extend(series)
                queries_of |= dict.fromkeys(batch, queries)
            if detector.uses_state and detector.views:
                states = [self.keeper.states[s] for s in names if s in self.keeper.states]
                results = state_results(states, list(detector.queries), _ms(start), _ms(end), cache)
            # judge in a read-only session (department tables); write only what changed
            with self.sessions() as session:
                ctx = RuleContext(
                    rule_id=d.id,
                    now=now,
                    start=start,
                    end=end,
                    thresholds=thresholds,
                    options=d.options,
                    facts=facts,
                    results=results,
                    session=session,
                    state=self.keeper if detector.uses_state else None,
                    cache=cache,
                )
                outcome = detector.fn(ctx) if facts.stations else Outcome()
            uncleared = self._open.get(d.id, set())
            result.scores = outcome.scores
            if outcome.findings or (outcome.checked & uncleared):
                with self.sessions.begin() as session:
                    self._store(session, d, outcome, queries_of, thresholds, now, result, uncleared)
            result.duration_ms = (time.perf_counter() - t0) * 1000
            self._pending.append(
                (
                    d.id,
                    "fired" if result.fired else "ok",
                    {
                        "window": [iso(start), iso(end)],
                        "fired": [list(x) for x in result.fired][:100],
                        "resolved": [list(x) for x in result.resolved][:100],
                        "checked": len(outcome.checked),
                    },
                    result.duration_ms,
                    now,
                )
            )
        except (InfluxError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            result.duration_ms = (time.perf_counter() - t0) * 1000
            if isinstance(exc, InfluxError):  # a service problem, not a bug: no traceback
                self.log.warning("rule %s at %s: %s", d.id, iso(now), exc)
            else:
                self.log.exception("rule %s failed at %s", d.id, iso(now))
            self._pending.append((d.id, "error", {"error": result.error}, result.duration_ms, now))
        else:
            self.log.info(
                "rule %s at %s: %d fired, %d resolved, %.0f ms",
                d.id,
                iso(now),
                len(result.fired),
                len(result.resolved),
                result.duration_ms,
            )
        return result

    async def _query(self, queries: dict[str, str]) -> dict[str, list[Series]]:
        if not queries:
            return {}
        names = list(queries)
        answers = await self.influx.query_many(";\n".join(queries[n] for n in names))
        return dict(zip(names, answers, strict=True))

    def _store(
        self,
        session: Session,
        d: RuleDefinition,
        outcome: Outcome,
        queries_of: dict[str, dict[str, str]],
        thresholds: dict[str, Any],
        now: datetime,
        result: RuleResult,
        uncleared: set[tuple[str, str]],
    ) -> None:
        fired = set()
        for f in outcome.findings:
            zh, en = _messages(d, f)
            upsert_warning(
                session,
                rule_id=d.id,
                category=d.category,
                severity=f.severity or d.severity,
                station=f.station,
                subject=f.subject,
                title_zh=d.name.zh,
                title_en=d.name.en,
                message_zh=zh,
                message_en=en,
                evidence=_evidence(d, f, queries_of.get(f.station, {}), thresholds, now),
                seen_at=now,
            )
            fired.add((f.station, f.subject))
            result.fired.append((f.station, f.subject))
        for station, subject in sorted((outcome.checked & uncleared) - fired):
            w = open_warning(session, d.id, station, subject)
            if w is not None and w.cleared_at is None:
                resolve_warning(
                    session,
                    rule_id=d.id,
                    station=station,
                    subject=subject,
                    at=now,
                    note="condition no longer holds",
                )
                result.resolved.append((station, subject))


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _messages(d: RuleDefinition, f: Finding) -> tuple[str, str]:
    c = f.comparison
    values = _Blank(
        station=f.station,
        subject=f.subject,
        measured=c.measured,
        expected=c.expected,
        threshold=c.threshold,
        unit=c.unit,
        **{k: v for k, v in f.values.items() if isinstance(v, str | int | float)},
    )
    out = []
    for template in (d.message.zh, d.message.en):
        try:
            out.append(template.format_map(values))
        except (ValueError, IndexError, KeyError):
            out.append(template)
    return out[0], out[1]


def _evidence(
    d: RuleDefinition,
    f: Finding,
    queries: dict[str, str],
    thresholds: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    values = dict(f.values)
    total = values.pop("records_total", len(f.records))
    return {
        "rule": d.id,
        "detector": d.detector,
        "evaluated_at": iso(now),
        "window": {"start": iso(f.window[0]), "end": iso(f.window[1])},
        "comparison": f.comparison.as_dict(),
        "values": values,
        "thresholds": thresholds,
        "queries": [{"name": n, "influxql": q} for n, q in queries.items()],
        "records": [r.as_dict() for r in f.records],
        "records_total": total,
    }
