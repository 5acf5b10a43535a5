"""The broker goes away while warnings keep coming: the alerts wait in the outbox, and reach a
subscriber with a persistent session once the broker is back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select

from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.cloud.store.models.alerts import AlertOutbox
from fuelwatch.core.mqtt import Message, MqttClient
from tests.alerts.helpers import add_reader, fast_settings, make_warnings, running
from tests.support.env import StackEnv, eventually
from tests.support.services import Broker

pytestmark = pytest.mark.slow


def _reader(broker: Broker, user: str, client_id: str, sink: list[Message]) -> MqttClient:
    return MqttClient(
        host="127.0.0.1",
        port=broker.port,
        client_id=client_id,
        username=user,
        password="reader-pass",
        clean_start=False,
        session_expiry=600,
        on_message=sink.append,
    )


def _alerts(messages: list[Message], station: str) -> list[Message]:
    return [m for m in messages if f"/{station}/" in m.topic and not m.topic.endswith("summary")]


def _unpublished(env: StackEnv) -> list[int]:
    with env.sessions() as s:
        return list(
            s.scalars(select(AlertOutbox.event_id).where(AlertOutbox.published_at.is_(None)))
        )


async def test_alerts_wait_for_the_broker(
    make_env: Callable[..., StackEnv], own_broker: Callable[..., Broker]
) -> None:
    broker = own_broker()
    env = make_env(broker_=broker)
    async with InfluxClient(env.influx.url, env.db) as influx:
        await influx.create_database()
    user, client_id = f"fuelwatch-reader-{uuid.uuid4().hex[:6]}", f"sub-{uuid.uuid4().hex[:6]}"
    add_reader(broker, user, "reader-pass", [env.district])
    got: list[Message] = []
    sub = _reader(broker, user, client_id, got)
    await sub.connect()
    await sub.subscribe([(f"alerts/v1/{env.district}/+/+", 1)])
    first = make_warnings(env.sessions, env.district, "ST1", 5)
    async with running(env.settings, fast_settings(), env.engine):
        await eventually(lambda: len(got) >= first + 1, timeout=20, what="the first alerts")
        await sub.disconnect()  # its session (and subscription) stay on the broker
        broker.stop()
        second = make_warnings(env.sessions, env.district, "ST2", 5)
        await eventually(lambda: len(_unpublished(env)) == second, timeout=10, what="waiting")
        await asyncio.sleep(2.0)  # the sender keeps trying meanwhile
        assert sorted(_unpublished(env)) == list(range(first + 1, first + second + 1))
        broker.start()
        await eventually(lambda: not _unpublished(env), timeout=60, what="published after")
    got_before = {m.topic for m in got}
    assert all("/ST1/" in t for t in got_before)
    late: list[Message] = []
    sub = _reader(broker, user, client_id, late)
    await sub.connect()
    try:
        await eventually(
            lambda: len(_alerts(late, "ST2")) >= second,
            timeout=20,
            what="the queued alerts",
        )
    finally:
        await sub.disconnect()
    ids = sorted(json.loads(m.payload)["event_id"] for m in _alerts(late, "ST2"))
    assert ids == list(range(first + 1, first + second + 1))
