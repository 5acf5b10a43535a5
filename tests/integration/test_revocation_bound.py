"""Issue 13 #9: a revoked key is refused from ``refresh`` seconds after the revocation on
(docs: 5 s). The probe saw 7.5 s: ingest checked a batch against the old cache and only then
reloaded it. A fake clock makes the bound exact."""

from __future__ import annotations

from sqlalchemy import select

from fuelwatch.cloud.ingest.app import build_ingest
from fuelwatch.cloud.ingest.checks import Checker
from fuelwatch.cloud.ingest.keys import KeyStore
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.cloud.store.models.registry import GatewayKey
from fuelwatch.cloud.store.registry import revoke_key
from fuelwatch.core.mqtt import Message
from tests.integration.test_rejections import signed, topic_of
from tests.support.env import StackEnv


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_revoked_key_is_refused_once_the_refresh_has_passed(env: StackEnv) -> None:
    gw = env.provision("RV01")
    topic = topic_of(env, "RV01")
    clock = Clock()
    async with InfluxClient(env.influx.url, env.db) as influx:
        await influx.create_database()
        service = build_ingest(env.settings, influx, env.engine)
        service.keys = KeyStore(env.sessions, refresh=5.0, clock=clock)
        service.checker = Checker(service.keys, max_sent_age_days=45, limits=service.checker.limits)
        await service.keys.reload()

        await service.flush([Message(topic, signed(gw, topic, 1), 1, False, 1)])
        assert service.stats.accepted_messages == 1
        with env.sessions.begin() as session:
            kid = session.scalars(
                select(GatewayKey.kid).where(GatewayKey.gateway_id == gw.gateway_id)
            ).one()
            revoke_key(session, kid=kid)
        clock.now += 4.9  # inside the refresh: the old cache may still hold
        clock.now += 0.1  # exactly `refresh` after the revocation
        await service.flush([Message(topic, signed(gw, topic, 2), 1, False, 2)])
    assert service.stats.accepted_messages == 1
    assert service.stats.rejected == {"revoked_key": 1}
