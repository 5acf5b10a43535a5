"""Drive a station's MQTT account directly and read the streaming warnings back."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from fuelwatch.cloud.ingest.streaming import register_streaming_rules
from fuelwatch.cloud.rules.store import set_thresholds
from fuelwatch.cloud.store.models.warnings import Warning_
from fuelwatch.core import wire
from fuelwatch.core.mqtt import MqttClient
from fuelwatch.core.records import InventoryRecord
from fuelwatch.core.wire import Signer
from fuelwatch.gateway.settings import GatewayConfig
from tests.support.env import RECENT_T0, StackEnv

T0 = RECENT_T0
FAST = {"streaming_interval": 0.3}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@contextlib.asynccontextmanager
async def station_client(
    env: StackEnv, config: GatewayConfig, *, station: str | None = None, password: str = ""
) -> AsyncIterator[MqttClient]:
    client = MqttClient(
        host="127.0.0.1",
        port=env.broker.port,
        client_id=f"raw-{station or config.station}-{time.monotonic_ns()}",
        username=station or config.station,
        password=password or config.mqtt.resolved_password(),
    )
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()


def topic_of(env: StackEnv, station: str, kind: str = "inventory") -> str:
    return f"fuel/v1/{env.district}/{station}/atg1/{kind}"


def signed(
    config: GatewayConfig,
    topic: str,
    seq: int,
    *,
    sent: int | None = None,
    signer: Signer | None = None,
    volume: float = 1000.0,
) -> bytes:
    rec = InventoryRecord(rid=seq, ts=T0 + seq, tank=1, product="92", volume=volume, height=1.0)
    return wire.encode(
        topic=topic,
        signer=signer or Signer.from_file(config.signing_key),
        gateway_id=config.gateway_id,
        seq=seq,
        boot=1,
        sent=now_ms() if sent is None else sent,
        records=[rec],
    )


def tampered(config: GatewayConfig, topic: str, seq: int) -> bytes:
    payload = bytearray(signed(config, topic, seq, volume=1000.0))
    payload[payload.index(b"1000.0")] = ord("9")  # one byte of the signed body changed
    return bytes(payload)


def thresholds(env: StackEnv, rule_id: str, **values: float) -> None:
    """Register the streaming rules (as ingest does) and change one rule's thresholds."""
    with env.sessions.begin() as session:
        register_streaming_rules(session)
        set_thresholds(session, rule_id, values, actor="test")


def warnings(env: StackEnv, rule_id: str) -> list[dict[str, Any]]:
    with env.sessions() as session:
        rows = session.scalars(
            select(Warning_).where(Warning_.rule_id == rule_id).order_by(Warning_.id)
        ).all()
        return [
            {
                "station": w.station_id,
                "subject": w.subject,
                "category": w.category,
                "severity": w.severity,
                "title_zh": w.title_zh,
                "title_en": w.title_en,
                "evidence": w.evidence,
                "occurrences": w.occurrences,
                "cleared": w.cleared_at is not None,
                "events": [e.action for e in w.events],
            }
            for w in rows
        ]
