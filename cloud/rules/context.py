"""What a detector gets (``RuleContext``) and what it gives back (``Outcome`` of ``Finding``s).

A detector is a pure judgement over query results and registry facts: it does no I/O of its
own beyond the department tables it reads through ``ctx.session``. The engine runs the rule's
queries, hands the series over, stores what the detector found, and resolves the subjects the
detector checked and found clean.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fuelwatch.cloud.common.categories import Severity
from fuelwatch.cloud.rules.facts import Facts
from fuelwatch.cloud.rules.state.keeper import StateKeeper
from fuelwatch.cloud.rules.state.station import StationState
from fuelwatch.cloud.store.influx import Series

__all__ = [
    "MAX_RECORDS",
    "Comparison",
    "Finding",
    "Outcome",
    "RawRecord",
    "RuleContext",
    "iso",
    "ms_to_dt",
]

#: raw records stored in a warning's evidence; the total is always given beside them
MAX_RECORDS = 500


def ms_to_dt(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(value: datetime | float) -> str:
    dt = value if isinstance(value, datetime) else ms_to_dt(value)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Comparison:
    """The numbers a warning stands on: ``measured`` against ``expected`` and ``threshold``."""

    measured: float
    expected: float
    threshold: float
    unit: str
    #: how measured relates to the threshold when the rule fires, e.g. "deviation > threshold"
    test: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "measured": _round(self.measured),
            "expected": _round(self.expected),
            "threshold": _round(self.threshold),
            "unit": self.unit,
            "test": self.test,
        }


def _round(x: float) -> float:
    return round(float(x), 4)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One stored point behind a warning: enough to find it again in InfluxDB."""

    measurement: str
    time_ms: int
    rid: int | None
    fields: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "measurement": self.measurement,
            "time": iso(self.time_ms),
            "rid": self.rid,
            **self.fields,
        }


@dataclass(slots=True)
class Finding:
    """The rule fires for ``station`` + ``subject``."""

    station: str
    subject: str
    comparison: Comparison
    window: tuple[datetime, datetime]
    values: dict[str, Any] = field(default_factory=dict)  # more numbers, for the evidence
    records: list[RawRecord] = field(default_factory=list)
    severity: Severity | None = None  # None: the rule's severity


@dataclass(slots=True)
class Outcome:
    """What a detector saw: findings, and every (station, subject) it judged (fired or not)."""

    findings: list[Finding] = field(default_factory=list)
    checked: set[tuple[str, str]] = field(default_factory=set)
    #: the statistic each judged subject was decided on (fired or not), in units of its
    #: threshold (0 = at the threshold): for the bench's ROC, and the rules' last-run detail
    scores: dict[tuple[str, str], float] = field(default_factory=dict)

    def fire(self, finding: Finding) -> None:
        self.findings.append(finding)
        self.checked.add((finding.station, finding.subject))

    def clear(self, station: str, subject: str) -> None:
        self.checked.add((station, subject))

    def score(self, station: str, subject: str, value: float) -> None:
        self.scores[(station, subject)] = round(float(value), 3)


@dataclass(slots=True)
class RuleContext:
    rule_id: str
    now: datetime
    start: datetime
    end: datetime
    thresholds: dict[str, Any]
    options: dict[str, Any]
    facts: Facts
    results: dict[str, list[Series]]
    session: Session
    #: the incremental state (cloud/rules/state): every station's running models, judged up
    #: to ``end`` (None for detectors that read query results)
    state: StateKeeper | None = None
    #: fits computed in this run, shared by the rules that use the same window
    cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    @property
    def window(self) -> tuple[datetime, datetime]:
        return self.start, self.end

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)

    def number(self, name: str) -> float:
        return float(self.thresholds[name])

    def series(self, query: str) -> list[Series]:
        return self.results.get(query, [])

    def rows(self, query: str) -> Iterable[tuple[dict[str, str], dict[str, Any]]]:
        """Every row of a query's result with its series' tags."""
        for s in self.results.get(query, []):
            for row in s.rows():
                yield s.tags, row

    def stations(self) -> list[StationState]:
        """The registered stations' states (state detectors only)."""
        assert self.state is not None, "this detector needs the incremental state"
        return [self.state.states[s] for s in sorted(self.facts.stations) if s in self.state.states]

    def option(self, name: str, default: float) -> float:
        return float(self.options.get(name, default))

    def shifted(self, delta: timedelta) -> datetime:
        return self.end - delta
