"""Issue 13 #9: broker password hashes are stretched (PBKDF2-SHA512, 10,000 iterations, not
mosquitto_passwd's 101), and the real Mosquitto accepts them."""

from __future__ import annotations

import uuid

from fuelwatch.cloud.provisioning.passwords import PasswordFile
from fuelwatch.core.mqtt import MqttClient
from tests.support.services import CLOUD_PASSWORD, CLOUD_USER, Broker


async def test_the_broker_accepts_the_stretched_hash(broker: Broker) -> None:
    hashed = PasswordFile(broker.files.password_file).entries[CLOUD_USER]
    algorithm, iterations = hashed.split("$")[1:3]
    assert (algorithm, int(iterations)) == ("7", 10_000)
    client = MqttClient(
        host="127.0.0.1",
        port=broker.port,
        client_id=f"pw-{uuid.uuid4().hex[:8]}",
        username=CLOUD_USER,
        password=CLOUD_PASSWORD,
    )
    await client.connect()
    await client.disconnect()
