"""Detectors on hand-made series (no services): the edge cases, one table row each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cloud.influx import Series
from cloud.rules.context import RuleContext
from cloud.rules.detectors.totalizer import totalizer_continuity
from cloud.rules.facts import Facts, NozzleFact, StationFact
from cloud.rules.stats import least_squares, pooled_slope

T0 = 1_740_960_000_000  # ms
MIN = 60_000


def _ctx(results: dict[str, list[Series]], **thresholds: float) -> RuleContext:
    station = StationFact("S1", "d1", nozzles={1: NozzleFact(1, 1, "92", 1)})
    return RuleContext(
        rule_id="t",
        now=datetime.fromtimestamp(T0 / 1000 + 86_400, UTC),
        start=datetime.fromtimestamp(T0 / 1000, UTC),
        end=datetime.fromtimestamp(T0 / 1000 + 86_400, UTC),
        thresholds=thresholds,
        options={},
        facts=Facts({"S1": station}),
        results=results,
        session=None,  # type: ignore[arg-type]  # the totalizer detector reads no tables
    )


def _series(name: str, columns: list[str], rows: list[list[Any]]) -> Series:
    return Series(name, {"station": "S1", "nozzle": "1"}, ["time", *columns], rows)


def _txn(t: int, before: float, after: float, start: int | None = None) -> list[Any]:
    return [
        T0 + t * MIN,
        before,
        after,
        T0 + (start if start is not None else t - 1) * MIN,
        f"o{t}",
        t,
    ]


def _snap(t: int, value: float) -> list[Any]:
    return [T0 + t * MIN, value, 1000 + t]


CASES = {
    "continuous": (
        [_txn(10, 100, 130), _txn(20, 130, 150)],
        [_snap(5, 100), _snap(15, 130), _snap(25, 150)],
        None,
    ),
    "jump": ([_txn(10, 100, 130), _txn(20, 930, 950)], [], ("jump", 800.0)),
    "rollback": ([_txn(10, 100, 130)], [_snap(15, 130), _snap(20, 30)], ("rollback", -100.0)),
    "reset": ([_txn(10, 5000, 5030)], [_snap(15, 5030), _snap(20, 0.5)], ("reset", -5029.5)),
    # a snapshot while fuel flows shows the totalizer counting up: not a discontinuity
    "counting_up": (
        [_txn(10, 100, 130, start=8)],
        [_snap(7, 100), _snap(9, 115), _snap(12, 130)],
        None,
    ),
    # a sale still flowing at the end of the window: its transaction is not stored yet
    "in_progress": ([_txn(10, 100, 130)], [_snap(15, 130), _snap(20, 160), _snap(25, 175)], None),
    # no sale after a jump, but the new value stands for 10 minutes: confirmed
    "jump_idle": (
        [_txn(10, 100, 130)],
        [_snap(15, 930), _snap(20, 930), _snap(25, 930)],
        ("jump", 800.0),
    ),
    # an hour of silence (the feed was down): the missing sales explain the jump
    "silence": ([_txn(10, 100, 130), _txn(75, 400, 420)], [], None),
}


@pytest.mark.parametrize("name", CASES)
def test_totalizer_continuity(name: str) -> None:
    txns, snaps, expected = CASES[name]
    ctx = _ctx(
        {
            "transactions": [
                _series(
                    "dispenser_transaction",
                    ["totalizer_before", "totalizer_after", "start", "order_id", "rid"],
                    txns,
                )
            ],
            "snapshots": [_series("totalizer", ["volume_total", "rid"], snaps)],
        },
        tolerance_litres=0.05,
        max_silence_minutes=12,
    )
    out = totalizer_continuity(ctx)
    assert out.checked == {("S1", "nozzle:1")}
    if expected is None:
        assert out.findings == []
        return
    [finding] = out.findings
    kind, litres = expected
    assert finding.values["kind"] == kind
    assert finding.values["change_litres"] == pytest.approx(litres)
    assert len(finding.records) == 2  # the records on both sides of the break
    assert all(r.rid is not None for r in finding.records)


def test_least_squares_recovers_coefficients() -> None:
    xs = [[float(i), float(i * i % 7)] for i in range(20)]
    ys = [2.0 * a - 0.5 * b for a, b in xs]
    fit = least_squares(xs, ys)
    assert fit is not None
    assert fit.coef == pytest.approx([2.0, -0.5])
    assert fit.residual_sd == pytest.approx(0.0, abs=1e-9)
    assert least_squares([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]], [1.0, 2.0, 3.0]) is None  # collinear


def test_pooled_slope_ignores_levels() -> None:
    segments = [
        [(t, level - 0.8 * t) for t in (0.0, 0.5, 1.0, 1.5)] for level in (100.0, 5000.0, -3.0)
    ]
    result = pooled_slope(segments)
    assert result is not None
    slope, se, n = result
    assert slope == pytest.approx(-0.8)
    assert se == pytest.approx(0.0, abs=1e-9)
    assert n == 12
