"""The shipped rule engine as it runs: a fresh ``fuelwatch cloud rules`` process writes the
warning, saves its state, and a second process resumes from it.

Data: the simulator's feed in a real InfluxDB, the station in the registry (tests/rules/world).
The processes are started exactly as the demo and docker-compose start them
(``python -m fuelwatch.cli cloud rules``, settings from ``FUELWATCH_*``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from fuelwatch.cloud.store.models.rules import RuleState
from fuelwatch.cloud.store.models.warnings import Warning_
from tests.rules.world import import_waybills, simulate
from tests.support.env import StackEnv

pytestmark = pytest.mark.slow

JUMP = {"kind": "totalizer_jump", "nozzle": 2, "litres": 800, "at": "1d12h"}
DELIVERY = {"kind": "unregistered_delivery", "tank": 2, "litres": 3000, "at": "1d6h"}


def _rules(env: StackEnv, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuelwatch.cli", "cloud", "rules", *args],
        env=env.process_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _warnings(env: StackEnv, station: str) -> dict[tuple[str, str], Warning_]:
    with env.sessions() as session:
        rows = session.scalars(select(Warning_).where(Warning_.station_id == station))
        return {(w.rule_id, w.subject): w for w in rows}


def test_once_writes_the_warnings_saves_state_and_a_new_process_resumes(env: StackEnv) -> None:
    sim = simulate(env, "PROC1", injections=[JUMP, DELIVERY])
    import_waybills(env, sim.waybills)
    at = sim.end - timedelta(hours=2)
    first = _rules(env, "--once", "--at", at.isoformat())
    assert first.returncode == 0, first.stdout + first.stderr
    assert "! PROC1 nozzle:2" in first.stdout, first.stdout
    assert "Traceback" not in first.stderr
    found = _warnings(env, "PROC1")
    jump = found[("totalizer.continuity", "nozzle:2")]
    assert jump.evidence["values"]["kind"] == "jump"
    assert jump.evidence["values"]["change_litres"] == pytest.approx(800, abs=0.01)
    [delivery] = [w for (rule, _), w in found.items() if rule == "delivery.unregistered"]
    values = delivery.evidence["values"]
    assert values["tank"] == 2
    assert 2800 < delivery.evidence["comparison"]["measured"] < 3200
    assert values["alpha"] == pytest.approx(1e-4)  # the probability the decision was made at
    assert values["standard_error_l20"] > 0  # and the uncertainty it was made against
    # the unregistered 3,000 L is also a gain in the book; nothing else fires (the station
    # is otherwise honest)
    assert {rule for rule, _ in found} <= {
        "totalizer.continuity",
        "delivery.unregistered",
        "reconciliation.daily_variance",
        "reconciliation.cumulative_variance",
    }
    daily = found.get(("reconciliation.daily_variance", "tank:2"))
    if daily is not None:
        assert 2700 < daily.evidence["values"]["variance_l20"] < 3300
    with env.sessions() as session:
        saved = session.get(RuleState, "PROC1")
        assert saved is not None
        fed = saved.fed_ms
    assert fed == int(at.timestamp() * 1000) - 60_000  # read up to now − the feed's lag

    later = at + timedelta(hours=1)
    second = _rules(env, "--once", "--at", later.isoformat())
    assert second.returncode == 0, second.stdout + second.stderr
    with env.sessions() as session:
        resumed = session.get(RuleState, "PROC1")
        assert resumed is not None
        assert resumed.fed_ms == fed + 3_600_000
    again = _warnings(env, "PROC1")
    assert again[("totalizer.continuity", "nozzle:2")].occurrences == 2  # the same warning


def test_forever_process_writes_the_warning_and_stops_cleanly(env: StackEnv) -> None:
    """``fuelwatch cloud rules`` on the wall clock, on a station whose last day is now."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    sim = simulate(env, "PROC2", start=start.isoformat(), injections=[JUMP])
    assert sim.end <= datetime.now(UTC) + timedelta(minutes=1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fuelwatch.cli", "cloud", "rules"],
        env=env.process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and ("totalizer.continuity", "nozzle:2") not in (
            _warnings(env, "PROC2")
        ):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(1)
        assert ("totalizer.continuity", "nozzle:2") in _warnings(env, "PROC2")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    with env.sessions() as session:
        assert session.get(RuleState, "PROC2") is not None  # saved on the way out
