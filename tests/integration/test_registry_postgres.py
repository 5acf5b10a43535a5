"""The deployment registry backend: the same ingest path on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fuelwatch.core.mqtt import MqttClient
from fuelwatch.core.records import InventoryRecord
from tests.integration.test_rejections import reasons, signed, topic_of
from tests.support.env import RECENT_T0, StackEnv, eventually
from tests.support.services import Broker

pytestmark = pytest.mark.postgres


async def test_ingest_with_postgres_registry(
    make_env: Callable[..., StackEnv], broker: Broker, postgres_url: str
) -> None:
    env = make_env(registry_url=postgres_url)
    config = env.provision("PG01")
    async with env.ingest() as ingest, env.gateway(config) as gw:
        await gw.spool.put(
            "atg1",
            [
                InventoryRecord(ts=RECENT_T0 + i, tank=1, product="92", volume=float(i), height=1.0)
                for i in range(1, 51)
            ],
        )
        await env.wait_count("tank_inventory", 50)
        client = MqttClient(
            host="127.0.0.1",
            port=broker.port,
            client_id="pg-raw",
            username="PG01",
            password=config.mqtt.resolved_password(),
        )
        await client.connect()
        topic = topic_of(env, "PG01")
        first = signed(config, topic, 900_000)
        await client.publish(topic, first)
        await client.publish(topic, first)
        await client.disconnect()
        # the copy is recognised through the PostgreSQL sequence table: confirmed, not stored
        await eventually(lambda: ingest.stats.duplicates == 1, what="copy recognised")
        assert reasons(env) == {}
    assert env.count("tank_inventory") == 51
