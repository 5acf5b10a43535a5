"""Identity and plausibility: nothing overwrites anything, nothing impossible is stored."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import orjson

from fuelwatch.cloud.store.models.registry import Tank
from fuelwatch.core import wire
from fuelwatch.core.mqtt import Message, MqttClient
from fuelwatch.core.records import InventoryRecord
from fuelwatch.core.wire import Ack, Signer, ack_topic, parse_ack
from fuelwatch.gateway.settings import GatewayConfig
from tests.support.env import RECENT_T0, StackEnv, eventually

YEAR_MS = 365 * 86_400_000


@contextlib.asynccontextmanager
async def as_gateway(
    env: StackEnv, config: GatewayConfig, password: str | None = None
) -> AsyncIterator[tuple[MqttClient, list[Ack]]]:
    """A raw client with the gateway's identity, reading its confirmations."""
    acks: list[Ack] = []

    def on_message(msg: Message) -> None:
        acks.append(parse_ack(msg.payload))

    client = MqttClient(
        host="127.0.0.1",
        port=env.broker.port,
        client_id=config.gateway_id,
        username=config.station,
        password=password or config.mqtt.resolved_password(),
        on_message=on_message,
    )
    await client.connect()
    await client.subscribe([(ack_topic(env.district, config.station, config.gateway_id), 1)])
    try:
        yield client, acks
    finally:
        await client.disconnect()


def envelope(
    config: GatewayConfig, topic: str, seq: int, records: list[bytes], *, sent: int | None = None
) -> bytes:
    body = [(rid, rec) for rid, rec in enumerate(records, start=seq * 100)]
    return wire.encode_records(
        topic=topic,
        signer=Signer.from_file(config.signing_key),
        gateway_id=config.gateway_id,
        seq=seq,
        boot=1,
        sent=sent if sent is not None else time.time_ns() // 1_000_000,
        records=body,
    )


def reading(**over: object) -> bytes:
    rec: dict[str, object] = {"ts": RECENT_T0, "tank": 1, "product": "92", "volume": 100.0}
    rec |= {"height": 500.0} | over
    return orjson.dumps(rec)


async def test_two_gateways_of_one_station_with_the_same_rids_are_both_stored(
    env: StackEnv,
) -> None:
    a = env.provision("ID01", gateway="gw-ID01-a")
    b = env.provision("ID01", gateway="gw-ID01-b")
    topic = f"fuel/v1/{env.district}/ID01/atg1/inventory"
    recs = [
        InventoryRecord(rid=7, ts=RECENT_T0, tank=1, product="92", volume=v, height=1.0)
        for v in (1.0, 2.0)
    ]
    # one station account: provisioning the second gateway set the station's password anew
    password = b.mqtt.resolved_password()
    async with (
        env.ingest(),
        as_gateway(env, a, password) as (ca, _),
        as_gateway(env, b, password) as (cb, _),
    ):
        for client, cfg, rec in ((ca, a, recs[0]), (cb, b, recs[1])):
            await client.publish(
                topic,
                wire.encode(
                    topic=topic,
                    signer=Signer.from_file(cfg.signing_key),
                    gateway_id=cfg.gateway_id,
                    seq=1,
                    boot=1,
                    sent=time.time_ns() // 1_000_000,
                    records=[rec],
                ),
            )
        await env.wait_count("tank_inventory", 2)
    rows = env.query('SELECT "volume", "rid", "gateway" FROM "tank_inventory"')
    assert sorted((r["gateway"], r["volume"], r["rid"]) for r in rows) == [
        ("gw-ID01-a", 1.0, 7),
        ("gw-ID01-b", 2.0, 7),
    ]


async def test_each_implausible_record_is_refused_with_its_reason_and_nothing_else(
    env: StackEnv,
) -> None:
    config = env.provision("IM01")
    with env.sessions.begin() as session:
        session.add(
            Tank(
                station_id="IM01",
                tank_no=1,
                product="92",
                capacity_l=30_000.0,
                strapping=[[0.0, 0.0], [1000.0, 15_000.0], [2500.0, 30_000.0]],
            )
        )
    topic = f"fuel/v1/{env.district}/IM01/atg1/inventory"
    now = time.time_ns() // 1_000_000
    cases = {
        "seconds": reading(ts=RECENT_T0 // 1000),
        "future": reading(ts=now + 10 * YEAR_MS),
        "before registration": reading(ts=now - 60 * 86_400_000),
        "negative volume": reading(volume=-5.0),
        "height over the tank": reading(height=2600.0),
        "hot": reading(temperature=95.0),
        "cold": reading(temperature=-60.0),
    }
    good = [reading(volume=float(i)) for i in range(3)]
    async with env.ingest() as ingest, as_gateway(env, config) as (client, acks):
        # one envelope: three good records around seven impossible ones
        await client.publish(
            topic, envelope(config, topic, 1, [good[0], *cases.values(), *good[1:]])
        )
        # a whole envelope signed "10 years from now"
        await client.publish(topic, envelope(config, topic, 2, [good[0]], sent=now + 10 * YEAR_MS))
        # a number sent as a string, and a rid twice in one envelope: schema
        await client.publish(topic, envelope(config, topic, 3, [reading(volume="12.5")]))
        twice = wire.encode_records(
            topic=topic,
            signer=Signer.from_file(config.signing_key),
            gateway_id=config.gateway_id,
            seq=4,
            boot=1,
            sent=now,
            records=[(900, good[0]), (900, good[1])],
        )
        await client.publish(topic, twice)
        await eventually(lambda: len(env.query('SELECT * FROM "rejected"')) >= 4, what="4 rows")
        await eventually(
            lambda: {s for a in acks for s in a.confirms()} >= {1, 2, 3, 4}, what="acks"
        )
        assert ingest.stats.implausible_records == 7
    rows = env.query('SELECT * FROM "rejected"')
    by_reason: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_reason.setdefault(str(row["reason"]), []).append(row)
    assert sorted((k, len(v)) for k, v in by_reason.items()) == [("implausible", 2), ("schema", 2)]
    per_record = next(r for r in by_reason["implausible"] if r["seq"] == 1)
    assert per_record["records"] == 7
    detail = str(per_record["detail"])
    for text in (
        "looks like seconds",
        "in the future",
        "before the gateway's registration",
        "volume -5.0 is negative",
        "above tank 1's full height 2500",
        "temperature 95.0",
        "temperature -60.0",
    ):
        assert text in detail, text
    whole = next(r for r in by_reason["implausible"] if r["seq"] == 2)
    assert "sent" in str(whole["detail"])
    assert any("more than once" in str(r["detail"]) for r in by_reason["schema"])
    assert any("valid number" in str(r["detail"]) for r in by_reason["schema"])
    # the three good records of envelope 1 are stored, nothing else
    stored = env.query('SELECT "volume", "rid" FROM "tank_inventory"')
    assert sorted(r["volume"] for r in stored) == [0.0, 1.0, 2.0]
    refusals = {r.seq: r for a in acks for r in a.refused}
    assert refusals[1].reason == "implausible"
    assert len(refusals[1].rids) == 7
    assert refusals[2].rids == ()
    assert refusals[3].reason == refusals[4].reason == "schema"
