"""A station whose data holds one fraud a rule must find: 6,000 L received into tank 2 with
no e-waybill (私自收油), in a day of simulated data loaded into InfluxDB and the registry
(``tests.rules.world``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from fuelwatch.cloud.store.models.alerts import AlertOutbox
from fuelwatch.cloud.store.models.warnings import WarningEvent
from tests.processes.launch import Launch, Site, run_to_end
from tests.rules.world import Simulated, simulate
from tests.streaming.support import warnings
from tests.support.env import StackEnv

RULE = "delivery.unregistered"
CATEGORY = "unregistered_delivery"
SUBJECT = "tank:2:delivery:"
DELIVERY = {"kind": "unregistered_delivery", "tank": 2, "litres": 6000, "at": "12h"}


def fraud_station(stack: StackEnv, station: str, *, ending_now: bool = False) -> Simulated:
    """One simulated day with the delivery at noon; ``ending_now`` puts it on the wall clock
    (for the continuous engine), otherwise it is the simulator's 2025-03-03."""
    changes: dict[str, Any] = {"duration": "1d", "injections": [DELIVERY]}
    if ending_now:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        changes["start"] = start.isoformat()
    return simulate(stack, station, **changes)


def rules_once(launch: Launch, site: Site, at: datetime) -> str:
    """``fuelwatch cloud rules --once --at AT`` in a fresh process; it must exit 0. Its output."""
    done = run_to_end(launch.command("rules", site).with_args("--once", "--at", at.isoformat()))
    output = f"{done.stdout[-2000:]}{done.stderr[-3000:]}"
    assert done.returncode == 0, f"exit {done.returncode}:\n{output}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.stdout


def fraud_warnings(stack: StackEnv) -> list[dict[str, Any]]:
    return warnings(stack, RULE)


def outbox_rows(stack: StackEnv) -> int:
    """Alert outbox rows of the rule's warning events (one per event, same transaction)."""
    with stack.sessions() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(AlertOutbox)
                .join(WarningEvent, WarningEvent.id == AlertOutbox.event_id)
                .where(AlertOutbox.category == CATEGORY)
            )
            or 0
        )
