"""A gateway provisioned with SM2 (national cryptography): ingest stores what it signs, and
refuses a payload whose body was changed after signing."""

from __future__ import annotations

from fuelwatch.cloud.ingest.app import build_ingest
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.core.mqtt import Message
from fuelwatch.core.wire import Algorithm, Signer
from tests.integration.test_rejections import signed, topic_of
from tests.support.env import StackEnv


async def test_ingest_verifies_sm2_gateways(env: StackEnv) -> None:
    gw = env.provision("SM01", alg=Algorithm.SM2)
    assert Signer.from_file(gw.signing_key).alg is Algorithm.SM2
    topic = topic_of(env, "SM01")
    good = signed(gw, topic, 1)
    assert b'"alg":"sm2"' in good
    forged = signed(gw, topic, 2).replace(b'"volume":1000.0', b'"volume":9000.0')
    async with InfluxClient(env.influx.url, env.db) as influx:
        await influx.create_database()
        service = build_ingest(env.settings, influx, env.engine)
        await service.keys.reload()
        await service.flush(
            [Message(topic, good, 1, False, 1), Message(topic, forged, 1, False, 2)]
        )
    assert service.stats.accepted_messages == 1
    assert service.stats.rejected == {"bad_signature": 1}
