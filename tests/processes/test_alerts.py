"""``fuelwatch cloud alerts``, a fresh process, pushes the warning a fresh rule engine wrote:
fraud in the data -> warning -> an alert on MQTT that a department's reader receives."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from fuelwatch.cloud.store.models.alerts import AlertOutbox
from tests.alerts.helpers import add_reader, subscriber
from tests.processes.conftest import BOTH
from tests.processes.fraud import CATEGORY, RULE, SUBJECT, fraud_station, rules_once
from tests.processes.launch import Launch, Shipped, Site
from tests.support.env import eventually


@BOTH
async def test_a_rule_warning_reaches_an_mqtt_reader(launch: Launch, site: Site) -> None:
    stack = site.stack
    sim = fraud_station(stack, "PA01")
    rules_once(launch, site, sim.end)
    with stack.sessions() as session:
        pending = len(session.scalars(select(AlertOutbox.id)).all())
    assert pending >= 1
    reader, password = f"fuelwatch-reader-{uuid.uuid4().hex[:6]}", "reader-pass"
    add_reader(stack.broker, reader, password, [stack.district])
    topic = f"alerts/v1/{stack.district}/PA01/{CATEGORY}"
    async with (
        subscriber(stack.broker, reader, password, f"alerts/v1/{stack.district}/#") as mqtt,
        Shipped(launch.command("alerts", site), site),
    ):
        await eventually(
            lambda: len(mqtt.payloads()) >= pending, timeout=30, what=f"{pending} alerts"
        )
        await eventually(lambda: _all_done(site), what="every outbox row done")
    [alert] = [m for m in mqtt.messages if m.topic == topic]
    payload = mqtt.payloads(f"/{CATEGORY}")[0]
    assert alert.topic == topic
    assert (payload["rule_id"], payload["station"], payload["severity"]) == (
        RULE,
        "PA01",
        "critical",
    )
    assert payload["subject"].startswith(SUBJECT)
    assert payload["category"]["code"] == CATEGORY
    assert len({p["event_id"] for p in mqtt.payloads()}) == pending  # each once


def _all_done(site: Site) -> bool:
    with site.stack.sessions() as session:
        return all(session.scalars(select(AlertOutbox.done)).all())
