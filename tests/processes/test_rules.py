"""``fuelwatch cloud rules``, a fresh process, finds an injected fraud and writes its warning.

On the old layout this process crashed on its first warning (the users table was never
loaded in it) and exited 1; the in-process engine tests could not see that.
"""

from __future__ import annotations

import time
from typing import Any

from tests.processes.conftest import BOTH
from tests.processes.fraud import (
    CATEGORY,
    SUBJECT,
    fraud_station,
    fraud_warnings,
    outbox_rows,
    rules_once,
)
from tests.processes.launch import Launch, Shipped, Site
from tests.support.env import eventually


def _assert_one_fraud_warning(site: Site, station: str) -> dict[str, Any]:
    [w] = fraud_warnings(site.stack)
    assert (w["station"], w["category"], w["severity"]) == (station, CATEGORY, "critical")
    assert str(w["subject"]).startswith(SUBJECT)
    assert w["events"] == ["opened"]
    assert w["evidence"]["comparison"]["measured"] > 5000
    assert outbox_rows(site.stack) == 1  # the alert, written with the warning
    return w


@BOTH
def test_once_at_writes_the_fraud_warning_and_exits_0(launch: Launch, site: Site) -> None:
    sim = fraud_station(site.stack, "PR01")
    assert f"! PR01 {SUBJECT}" in rules_once(launch, site, sim.end)
    _assert_one_fraud_warning(site, "PR01")


@BOTH
async def test_continuous_engine_writes_it_on_its_schedule(launch: Launch, site: Site) -> None:
    """The engine evaluates every rule when it starts (none has run yet), then each on its
    schedule: the fraud of the last day is a warning within seconds."""
    fraud_station(site.stack, "PR02", ending_now=True)
    started = time.monotonic()
    async with Shipped(launch.command("rules", site), site) as rules:
        await eventually(lambda: fraud_warnings(site.stack), timeout=60, what="the warning")
        assert rules.running()
        elapsed = time.monotonic() - started
    _assert_one_fraud_warning(site, "PR02")
    assert rules.logged("rule engine started")
    print(f"\nthe continuous engine wrote the warning {elapsed:.1f} s after it was started")
