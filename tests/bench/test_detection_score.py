"""Scoring of the detection bench: trials (labels) against alarms (warning onsets)."""

from __future__ import annotations

import pytest

from bench.detect.report import judge_targets
from bench.detect.score import (
    DAY_MS,
    HOUR_MS,
    Alarm,
    StationPeriod,
    Trial,
    false_alarms,
    judge_trial,
    leak_pfa,
    rows,
    subject_matches,
    wilson_lower,
)

T0 = 1_788_192_000_000  # 2026-09-01 00:00 +08:00


def trial(kind: str = "unregistered_delivery", **kw: object) -> Trial:
    base: dict[str, object] = {
        "station": "s1",
        "kind": kind,
        "magnitude": 500.0,
        "unit": "L20",
        "start_ms": T0 + 7 * DAY_MS,
        "end_ms": T0 + 7 * DAY_MS + HOUR_MS // 2,
        "subjects": frozenset({"tank:2", "product:95"}),
    }
    return Trial(**(base | kw))  # type: ignore[arg-type]


def alarm(at_ms: int, **kw: object) -> Alarm:
    base: dict[str, object] = {
        "station": "s1",
        "rule_id": "delivery.unregistered",
        "category": "unregistered_delivery",
        "subject": "tank:2",
        "at_ms": at_ms,
    }
    return Alarm(**(base | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("subject", "trial_subjects", "expected"),
    [
        ("tank:2", {"tank:2", "product:95"}, True),
        ("tank:1", {"tank:2", "product:95"}, False),  # another tank: not this trial
        ("nozzle:3", {"tank:2", "product:95"}, True),  # trial not scoped by nozzle
        ("nozzle:3", {"nozzle:4", "tank:2"}, False),
        ("station", {"tank:2"}, True),  # station-wide alarms may answer any trial
        ("gateway:gw-s1", {"tank:2"}, True),
        ("product:92", {"tank:2", "product:95"}, False),
        ("tank:2", set(), True),  # a station-wide trial takes any subject
        ("tank:2:delivery:1788300000000", {"tank:2", "product:95"}, True),
        ("tank:1:delivery:1788300000000", {"tank:2", "product:95"}, False),
    ],
)
def test_subject_matching(subject: str, trial_subjects: set[str], expected: bool) -> None:
    assert subject_matches(subject, frozenset(trial_subjects)) is expected


def test_detected_within_horizon_with_time_to_detect() -> None:
    t = trial()
    out = judge_trial(t, [alarm(t.start_ms + 20 * 60_000)])
    assert out.detected
    assert out.ttd_ms == 20 * 60_000
    assert out.by == "delivery.unregistered"


def test_an_alarm_after_the_horizon_is_late_not_detected() -> None:
    t = trial()
    out = judge_trial(t, [alarm(t.start_ms + 2 * HOUR_MS)])
    assert not out.detected
    assert out.late_ms == 2 * HOUR_MS


@pytest.mark.parametrize(
    "other",
    [
        {"category": "inventory_reconciliation"},  # not a category expected for the kind
        {"station": "s2"},
        {"subject": "tank:1"},
    ],
)
def test_alarms_of_another_category_station_or_tank_do_not_count(
    other: dict[str, str],
) -> None:
    t = trial()
    assert not judge_trial(t, [alarm(t.start_ms + 60_000, **other)]).detected


def test_an_alarm_before_the_start_does_not_count_and_masks_if_still_active() -> None:
    t = trial()
    active = alarm(t.start_ms - DAY_MS)
    cleared = alarm(t.start_ms - DAY_MS, cleared_ms=t.start_ms - HOUR_MS)
    assert judge_trial(t, [active]).masked
    out = judge_trial(t, [cleared])
    assert not out.detected
    assert not out.masked


def test_a_trial_in_force_before_evaluation_is_timed_from_the_first_evaluation() -> None:
    t = trial("declared_capacity", start_ms=T0, end_ms=T0 + 30 * DAY_MS, magnitude=-5000)
    a = alarm(T0 + DAY_MS + 15 * 60_000, category="false_capacity")
    out = judge_trial(t, [a], evaluated_from_ms=T0 + DAY_MS)
    assert out.detected
    assert out.ttd_ms == 15 * 60_000


def test_rows_group_by_kind_and_magnitude_and_skip_undetectable_trials() -> None:
    t500, t300 = trial(), trial(magnitude=300.0)
    dud = trial(magnitude=300.0, detectable=False)
    outcomes = [
        judge_trial(t500, [alarm(t500.start_ms + 600_000)]),
        judge_trial(t300, []),
        judge_trial(dud, []),
    ]
    table = {r.magnitude: r for r in rows(outcomes)}
    assert (table[300.0].n, table[300.0].detected) == (1, 0)
    assert (table[500.0].n, table[500.0].detected, table[500.0].pd) == (1, 1, 1.0)
    assert table[500.0].ttd_median_h == pytest.approx(600_000 / HOUR_MS)


def test_false_alarms_count_clean_time_only_and_per_100_station_days() -> None:
    clean = StationPeriod("c1", T0 + DAY_MS, T0 + 31 * DAY_MS, T0 + 31 * DAY_MS, (1, 2))
    fraud_start = T0 + 8 * DAY_MS
    fraud = StationPeriod("s1", T0 + DAY_MS, T0 + 31 * DAY_MS, fraud_start, (1, 2))
    t = trial(start_ms=fraud_start, end_ms=fraud_start + HOUR_MS)
    alarms = [
        alarm(T0 + 5 * DAY_MS, station="c1", category="cloud_data", rule_id="r.gap"),
        alarm(T0 + 2 * DAY_MS, category="dispenser", rule_id="r.over"),  # fraud warm-up
        alarm(fraud_start + HOUR_MS),  # explained by the trial
        alarm(fraud_start + 5 * DAY_MS, category="business_data"),  # after: apart
        alarm(T0 + HOUR_MS, station="c1"),  # before evaluation: ignored
        alarm(T0 + 40 * DAY_MS, station="c1"),  # after the station's end: ignored
    ]
    fa = false_alarms([clean, fraud], [t], alarms)
    assert fa.clean_days == pytest.approx(30 + 7)
    assert fa.count == 2
    assert fa.per_100_days == pytest.approx(100 * 2 / 37)
    assert fa.by_category == {"cloud_data": 1, "dispenser": 1}
    assert fa.unexplained_after == 1


def test_leak_pfa_counts_clean_tanks_with_a_reconciliation_alarm() -> None:
    clean = StationPeriod("c1", T0, T0 + 30 * DAY_MS, T0 + 30 * DAY_MS, (1, 2, 3, 4))
    fraud = StationPeriod("s1", T0, T0 + 30 * DAY_MS, T0 + 7 * DAY_MS, (1, 2))
    alarms = [
        alarm(T0 + DAY_MS, station="c1", category="inventory_reconciliation", subject="tank:3"),
        alarm(T0 + DAY_MS, station="c1", category="dispenser", subject="tank:1"),
        alarm(T0 + DAY_MS, station="s1", category="inventory_reconciliation", subject="tank:1"),
    ]
    assert leak_pfa([clean, fraud], alarms) == (1, 4)
    station_wide = [alarm(T0, station="c1", category="inventory_reconciliation", subject="station")]
    assert leak_pfa([clean], station_wide) == (4, 4)


def test_wilson_lower_bound() -> None:
    assert wilson_lower(0, 0) == 0.0
    assert wilson_lower(20, 20) == pytest.approx(0.881, abs=0.005)
    assert wilson_lower(59, 59) > 0.95 > wilson_lower(58, 59)
    assert wilson_lower(5, 10) < 0.5


def test_targets_pool_magnitudes_at_or_above_the_threshold() -> None:
    low = trial("over_registration", magnitude=0.3, unit="%", subjects=frozenset({"nozzle:1"}))
    at = trial("over_registration", magnitude=0.5, unit="%", subjects=frozenset({"nozzle:1"}))
    hit = alarm(at.start_ms + DAY_MS, category="dispenser", subject="nozzle:1")
    outcomes = [judge_trial(low, []), judge_trial(at, [hit])]
    verdict = next(v for v in judge_targets(outcomes) if v.target.startswith("over-reg"))
    assert (verdict.n, verdict.detected, verdict.passed) == (1, 1, True)
    assert "cannot show" in verdict.note  # one trial proves nothing at 95 % confidence
    leak = next(v for v in judge_targets(outcomes) if v.target.startswith("leak"))
    assert leak.passed is None
