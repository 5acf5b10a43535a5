"""Scoring a detection run: ground-truth trials against the alarms the rule engine raised.

Pure functions on plain data, so the definitions below are tested on tables
(tests/bench/test_detection_score.py) and documented in docs/detection.md.

- A **trial** is one labelled injection period (one simulator label) that had an effect.
- An **alarm** is one onset of a warning: the warning was opened, or it recurred after the
  rule had cleared it (``opened`` / ``recurred`` events, on the evaluation clock). A warning
  that stays open and is merely updated is one alarm, however often the rule fires.
- A trial is **detected** when an alarm at its station, of a category expected for its kind
  (``EXPECTATIONS``), about a matching subject, has its onset in
  ``[start, start + horizon]``; time to detect = onset − start. An alarm of the right kind
  that is still active (not cleared) at the trial's start *masks* the trial: no new onset can
  happen, so the trial is reported as masked, not as missed.
- An alarm is **explained** when it falls in ``[start, end + horizon]`` of some trial at its
  station (whatever its category: a leak also moves daily variance). Every other alarm inside
  a station's clean time (a clean station's whole evaluated period, a fraud station's period
  before its first injection) is a **false alarm**; unexplained alarms on a fraud station after
  its first injection are counted apart (``unexplained_after``), outside the rate.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "EXPECTATIONS",
    "HOUR_MS",
    "Alarm",
    "Expectation",
    "FalseAlarms",
    "Outcome",
    "Row",
    "StationPeriod",
    "Trial",
    "false_alarms",
    "judge_trial",
    "leak_pfa",
    "rows",
    "subject_matches",
    "wilson_lower",
]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
SCOPED = ("tank", "nozzle", "product")


@dataclass(frozen=True, slots=True)
class Expectation:
    categories: frozenset[str]
    horizon_ms: int
    why: str
    primary: str  # the category the per-category table counts the kind under


def _e(categories: Sequence[str], horizon_ms: int, why: str) -> Expectation:
    return Expectation(frozenset(categories), horizon_ms, why, categories[0])


#: injection kind -> categories that count as detecting it, and within how long.
EXPECTATIONS: dict[str, Expectation] = {
    "over_registration": _e(
        ("dispenser", "inventory_reconciliation"), 3 * DAY_MS, "target: >= 0.5 % within 3 days"
    ),
    "offbook_bypass": _e(
        ("inventory_reconciliation",), DAY_MS, "target: hidden sales >= 1 % within 1 day"
    ),
    "pos_omission": _e(
        ("business_link", "declaration_deviation", "tax_control"),
        DAY_MS,
        "target: hidden sales >= 1 % within 1 day",
    ),
    "leak": _e(("inventory_reconciliation",), 7 * DAY_MS, "target: 0.76 L/h within 7 days"),
    "unregistered_delivery": _e(
        ("unregistered_delivery",), HOUR_MS, "target: >= 500 L within 1 hour"
    ),
    "totalizer_jump": _e(("totalizer_tampering",), DAY_MS, "target: 100 % (horizon ours: 1 day)"),
    "totalizer_rollback": _e(
        ("totalizer_tampering",), DAY_MS, "target: 100 % (horizon ours: 1 day)"
    ),
    "delivery_mismatch": _e(
        ("unregistered_delivery", "inventory_reconciliation"), DAY_MS, "no target; 1 day"
    ),
    "declared_capacity": _e(("false_capacity",), 7 * DAY_MS, "no target; 7 days"),
    "price_out_of_range": _e(("business_data",), DAY_MS, "no target; 1 day"),
    "clock_skew": _e(("cloud_data",), DAY_MS, "no target; 1 day"),
    "gateway_unplugged": _e(("cloud_data", "business_link"), HOUR_MS, "no target; 1 hour"),
}


@dataclass(frozen=True, slots=True)
class Trial:
    """One labelled injection period. ``subjects`` are what an alarm may name for it
    (``tank:1``, ``nozzle:3``, ``product:92``); empty = station-wide."""

    station: str
    kind: str
    magnitude: float
    unit: str
    start_ms: int
    end_ms: int
    subjects: frozenset[str] = frozenset()
    detectable: bool = True
    realized: float | None = None  # the magnitude it really had, where we can measure it


@dataclass(frozen=True, slots=True)
class Alarm:
    """One onset of a warning; ``cleared_ms``: when the rule next cleared it (None: never)."""

    station: str
    rule_id: str
    category: str
    subject: str
    at_ms: int
    cleared_ms: int | None = None


@dataclass(frozen=True, slots=True)
class StationPeriod:
    """The evaluated time of a station; ``clean_until_ms``: its first injection (or end)."""

    station: str
    start_ms: int
    end_ms: int
    clean_until_ms: int
    tanks: tuple[int, ...] = ()

    @property
    def clean_days(self) -> float:
        return max(0, min(self.clean_until_ms, self.end_ms) - self.start_ms) / DAY_MS


@dataclass(frozen=True, slots=True)
class Outcome:
    trial: Trial
    detected: bool
    ttd_ms: int | None  # within the horizon
    late_ms: int | None  # first matching onset after the horizon (None: none)
    masked: bool
    by: str | None  # rule id of the first detecting alarm


def subject_matches(alarm_subject: str, trial_subjects: frozenset[str]) -> bool:
    """An alarm about a tank, nozzle or product (``tank:2``, ``tank:2:delivery:...``) must
    name one of the trial's; anything else (``station``, ``pos``, ``device:atg1``) may be
    about any trial."""
    kind, sep, rest = alarm_subject.partition(":")
    if not sep or kind not in SCOPED:
        return True
    if not any(s.startswith(kind + ":") for s in trial_subjects):
        return True  # the trial is not scoped by this kind (e.g. a station-wide omission)
    # compound subjects name their scope first: "tank:2:delivery:1788..." is about tank 2
    return f"{kind}:{rest.split(':', 1)[0]}" in trial_subjects


def _relevant(alarm: Alarm, trial: Trial, expected: Expectation) -> bool:
    return (
        alarm.station == trial.station
        and alarm.category in expected.categories
        and subject_matches(alarm.subject, trial.subjects)
    )


def judge_trial(
    trial: Trial, alarms: Sequence[Alarm], *, evaluated_from_ms: int | None = None
) -> Outcome:
    """``evaluated_from_ms``: a trial in force before the engine's first evaluation (a false
    capacity, declared from the start) is timed from that first evaluation."""
    expected = EXPECTATIONS[trial.kind]
    start = max(trial.start_ms, evaluated_from_ms or trial.start_ms)
    mine = sorted((a for a in alarms if _relevant(a, trial, expected)), key=lambda a: a.at_ms)
    hit = next((a for a in mine if start <= a.at_ms <= start + expected.horizon_ms), None)
    late = next((a for a in mine if a.at_ms > start + expected.horizon_ms), None)
    masked = hit is None and any(
        a.at_ms < start and (a.cleared_ms is None or a.cleared_ms > start) for a in mine
    )
    return Outcome(
        trial=trial,
        detected=hit is not None,
        ttd_ms=hit.at_ms - start if hit else None,
        late_ms=late.at_ms - start if late else None,
        masked=masked,
        by=hit.rule_id if hit else None,
    )


def wilson_lower(successes: int, n: int, z: float = 1.645) -> float:
    """One-sided 95 % lower confidence bound of a proportion (Wilson score)."""
    if n == 0:
        return 0.0
    p = successes / n
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denom)


@dataclass(slots=True)
class Row:
    """One line of the table: a kind at one magnitude."""

    kind: str
    magnitude: float
    unit: str
    n: int = 0
    detected: int = 0
    masked: int = 0
    late: int = 0
    ttd_ms: list[int] = field(default_factory=list)
    realized: list[float] = field(default_factory=list)
    by: Counter[str] = field(default_factory=Counter)

    @property
    def pd(self) -> float:
        return self.detected / self.n if self.n else float("nan")

    @property
    def pd_lower(self) -> float:
        return wilson_lower(self.detected, self.n)

    @property
    def ttd_median_h(self) -> float | None:
        return statistics.median(self.ttd_ms) / HOUR_MS if self.ttd_ms else None

    @property
    def ttd_max_h(self) -> float | None:
        return max(self.ttd_ms) / HOUR_MS if self.ttd_ms else None

    @property
    def ttd_p95_h(self) -> float | None:
        """95th percentile of the times to detect (nearest rank)."""
        if not self.ttd_ms:
            return None
        ordered = sorted(self.ttd_ms)
        return ordered[max(0, -(-95 * len(ordered) // 100) - 1)] / HOUR_MS


def rows(outcomes: Iterable[Outcome]) -> list[Row]:
    """Outcomes of detectable trials grouped by kind and magnitude, in a stable order."""
    table: dict[tuple[str, float], Row] = {}
    for o in outcomes:
        t = o.trial
        if not t.detectable:
            continue
        row = table.setdefault((t.kind, t.magnitude), Row(t.kind, t.magnitude, t.unit))
        row.n += 1
        row.masked += o.masked
        if t.realized is not None:
            row.realized.append(t.realized)
        if o.detected and o.ttd_ms is not None:
            row.detected += 1
            row.ttd_ms.append(o.ttd_ms)
            row.by[o.by or "?"] += 1
        elif o.late_ms is not None:
            row.late += 1
    order = list(EXPECTATIONS)
    return sorted(
        table.values(),
        key=lambda r: (order.index(r.kind) if r.kind in order else 99, r.kind, r.magnitude),
    )


@dataclass(slots=True)
class FalseAlarms:
    clean_days: float = 0.0
    count: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    unexplained_after: int = 0  # on fraud stations after their first injection, not in the rate
    unexplained_by_category: Counter[str] = field(default_factory=Counter)
    alarms: list[Alarm] = field(default_factory=list)

    @property
    def per_100_days(self) -> float:
        return 100 * self.count / self.clean_days if self.clean_days else float("nan")


def _explained(alarm: Alarm, trials: Sequence[Trial]) -> bool:
    return any(
        t.station == alarm.station
        and t.start_ms <= alarm.at_ms <= t.end_ms + EXPECTATIONS[t.kind].horizon_ms
        for t in trials
    )


def false_alarms(
    periods: Sequence[StationPeriod], trials: Sequence[Trial], alarms: Sequence[Alarm]
) -> FalseAlarms:
    """Alarms in clean time that no trial explains, per 100 clean station-days.

    Alarms before a station's evaluated start or after its end are ignored (the engine sees
    every registered station at every step, including stations whose run has ended).
    """
    out = FalseAlarms(clean_days=sum(p.clean_days for p in periods))
    by_station = {p.station: p for p in periods}
    for a in alarms:
        p = by_station.get(a.station)
        if p is None or not (p.start_ms <= a.at_ms < p.end_ms) or _explained(a, trials):
            continue
        if a.at_ms < p.clean_until_ms:
            out.count += 1
            out.by_category[a.category] += 1
            out.by_rule[a.rule_id] += 1
            out.alarms.append(a)
        else:
            out.unexplained_after += 1
            out.unexplained_by_category[a.category] += 1
    return out


def leak_pfa(periods: Sequence[StationPeriod], alarms: Sequence[Alarm]) -> tuple[int, int]:
    """SIR-style false-alarm probability: of the tanks of fully clean stations (a month
    each), how many got an inventory-reconciliation alarm about them (or about the whole
    station) in the evaluated period. Returns (tanks alarmed, tanks)."""
    hit = total = 0
    for p in periods:
        if p.clean_until_ms < p.end_ms:
            continue  # not a clean station
        recon = [
            a
            for a in alarms
            if a.station == p.station
            and a.category == "inventory_reconciliation"
            and p.start_ms <= a.at_ms < p.end_ms
        ]
        for tank in p.tanks:
            total += 1
            hit += any(subject_matches(a.subject, frozenset({f"tank:{tank}"})) for a in recon)
    return hit, total
