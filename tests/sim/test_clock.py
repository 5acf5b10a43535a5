"""Simulated time: the pacer's speed factor and local-time helpers."""

from __future__ import annotations

import pytest

from fuelwatch.sim.clock import DAY_MS, HOUR_MS, Pacer, SimClock, local_hour, next_local_time

MIDNIGHT_CST = 1_740_931_200_000  # 2025-03-03 00:00 +08:00


def test_pacer_runs_faster_than_real_time():
    wall = [100.0]
    pacer = Pacer(MIDNIGHT_CST, 600.0, monotonic=lambda: wall[0])
    assert pacer.target() == MIDNIGHT_CST
    wall[0] += 6.0  # six wall seconds are an hour at 600x
    assert pacer.target() == MIDNIGHT_CST + HOUR_MS
    with pytest.raises(ValueError, match="positive"):
        Pacer(0, 0.0)


def test_sim_clock_never_goes_back():
    clock = SimClock(MIDNIGHT_CST)
    clock.advance(MIDNIGHT_CST + 5)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(MIDNIGHT_CST)


def test_local_time_helpers():
    offset = 8 * 3600
    assert local_hour(MIDNIGHT_CST + 90 * 60_000, offset) == pytest.approx(1.5)
    assert next_local_time(MIDNIGHT_CST, offset, 0) == MIDNIGHT_CST + DAY_MS
    assert next_local_time(MIDNIGHT_CST - 1, offset, 0) == MIDNIGHT_CST
    assert next_local_time(MIDNIGHT_CST, offset, 19 * 60) == MIDNIGHT_CST + 19 * HOUR_MS
