"""Every way a message is refused is counted, logged and stored in `rejected`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import orjson
import pytest

from fuelwatch.core import wire
from fuelwatch.core.mqtt import MqttClient, PublishRejectedError
from fuelwatch.core.records import InventoryRecord
from fuelwatch.core.wire import Signer
from fuelwatch.gateway.settings import GatewayConfig
from tests.support.env import RECENT_T0, StackEnv, eventually
from tests.support.services import CLOUD_USER, Broker

T0 = RECENT_T0


@contextlib.asynccontextmanager
async def station_client(env: StackEnv, config: GatewayConfig) -> AsyncIterator[MqttClient]:
    client = MqttClient(
        host="127.0.0.1",
        port=env.broker.port,
        client_id=f"raw-{config.station}",
        username=config.station,
        password=config.mqtt.resolved_password(),
    )
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()


def signed(
    config: GatewayConfig,
    topic: str,
    seq: int,
    *,
    signer: Signer | None = None,
    gw: str | None = None,
    volume: float = 1000.0,
) -> bytes:
    signer = signer or Signer.from_file(config.signing_key)
    rec = InventoryRecord(rid=seq, ts=T0 + seq, tank=1, product="92", volume=volume, height=1.0)
    import time  # noqa: PLC0415

    return wire.encode(
        topic=topic,
        signer=signer,
        gateway_id=gw or config.gateway_id,
        seq=seq,
        boot=1,
        sent=time.time_ns() // 1_000_000,
        records=[rec],
    )


def topic_of(env: StackEnv, station: str) -> str:
    return f"fuel/v1/{env.district}/{station}/atg1/inventory"


def reasons(env: StackEnv) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in env.query('SELECT * FROM "rejected"'):
        out[str(row["reason"])] = out.get(str(row["reason"]), 0) + 1
    return out


async def test_each_bad_message_is_rejected_with_its_own_reason(env: StackEnv) -> None:
    a = env.provision("RJ01")
    b = env.provision("RJ02")
    ta, tb = topic_of(env, "RJ01"), topic_of(env, "RJ02")
    stranger = Signer.from_pem(wire.generate_private_key_pem())
    async with env.ingest() as ingest, station_client(env, a) as ca, station_client(env, b) as cb:
        good = signed(a, ta, 1)
        await ca.publish(ta, good)
        await env.wait_count("tank_inventory", 1)

        altered = bytearray(signed(a, ta, 2, volume=1000.0))
        pos = altered.index(b"1000.0")
        altered[pos] = ord("9")  # one byte of the body changed
        await ca.publish(ta, bytes(altered))
        # a key that was never registered, claiming to be gateway a
        await ca.publish(ta, signed(a, ta, 3, signer=stranger))
        # a registered gateway id that does not exist
        await ca.publish(ta, signed(a, ta, 4, gw="gw-nobody"))
        # the same valid message again (no DUP: a gateway's resend, or a replay - the same
        # bytes either way): a duplicate, confirmed again and not stored twice
        await ca.publish(ta, good)
        # station b re-publishes a's valid message on its own topic
        await cb.publish(tb, good)
        # a's message signed with a's key but for b's topic (ACL lets b publish it)
        await cb.publish(tb, signed(a, tb, 5))

        await eventually(lambda: sum(reasons(env).values()) >= 5, what="5 rejections")
        got = reasons(env)
        assert got == {
            "bad_signature": 1,
            "unknown_key": 1,
            "unknown_gateway": 1,
            "topic_mismatch": 2,
        }
        await eventually(lambda: ingest.stats.rejected == got, what="ingest counters")
        assert ingest.stats.duplicates == 1
        assert ingest.stats.resent == 1
        # nothing of those reached the data
        assert env.count("tank_inventory") == 1
        # each rejection keeps the evidence: topic, gateway, seq, raw payload
        row = env.query('SELECT * FROM "rejected" WHERE "reason" = \'topic_mismatch\'')[0]
        assert row["topic"] == tb
        assert row["gw"] == a.gateway_id
        assert row["seq"] == 1
        import base64  # noqa: PLC0415

        assert base64.b64decode(str(row["payload"])) == good


async def test_malformed_payloads_do_not_stop_ingest(env: StackEnv) -> None:
    a = env.provision("MF01")
    ta = topic_of(env, "MF01")
    bad_schema = wire.encode_records(
        topic=ta,
        signer=Signer.from_file(a.signing_key),
        gateway_id=a.gateway_id,
        seq=2,
        boot=1,
        sent=T0,
        records=[(2, orjson.dumps({"ts": T0, "tank": "one"}))],
    )
    async with env.ingest() as ingest, station_client(env, a) as ca:
        await ca.publish(ta, b"\x00\xff not json")
        await ca.publish(ta, b"{}")
        await ca.publish(ta, bad_schema)
        # over 1 MiB but within the broker's packet limit: ingest refuses it as too large
        await ca.publish(ta, b"x" * (wire.MAX_PAYLOAD_BYTES + 10))
        # over the broker's Maximum Packet Size: our client refuses it before the broker would
        # close the connection over it
        assert ca.max_packet_size == 1_100_000
        with pytest.raises(PublishRejectedError) as refused:
            await ca.publish(ta, b"x" * 1_100_000)
        assert refused.value.reason_code == 149
        assert ca.is_connected
        # 5,001 records within the size limit: ingest refuses it as too large
        await ca.publish(
            ta,
            b'{"v":1,"records":[' + b",".join([b"{}"] * 5001) + b']}\n{"alg":"ed25519","sig":""}',
        )
        await ca.publish(f"fuel/v1/{env.district}/MF01/atg1/bogus", b"{}")
        await ca.publish(ta, signed(a, ta, 3))  # a good one afterwards still gets through
        await env.wait_count("tank_inventory", 1)
        await eventually(lambda: sum(reasons(env).values()) >= 5, what="5 rejections")
    got = reasons(env)
    assert got["malformed"] == 2
    assert got["schema"] == 1
    assert got["too_large"] == 2
    assert got["bad_topic"] == 1
    await eventually(lambda: ingest.stats.accepted_messages == 1, what="ingest counters")


async def test_acl_refuses_another_stations_subtree(env: StackEnv) -> None:
    a = env.provision("AC01")
    env.provision("AC02")
    async with station_client(env, a) as ca:
        with pytest.raises(PublishRejectedError) as refused:
            await ca.publish(topic_of(env, "AC02"), b"x")
        assert refused.value.reason_code == 135  # Not authorized, seen only over MQTT 5
        # with the broker's queue limits set (broker/mosquitto.conf.tmpl) Mosquitto 2.0.11
        # keeps the connection after refusing a QoS 1 publish: the station's own topic works
        assert await ca.publish(topic_of(env, "AC01"), b"x") in (0, 16)


async def test_gateway_with_the_wrong_account_cannot_connect_and_keeps_data(
    env: StackEnv,
) -> None:
    env.provision("AC03")
    # AC04's gateway logs in with AC03's account. Mosquitto checks the Will topic against the
    # ACL at CONNECT, so the connection itself is refused with 135.
    creds = {
        "mqtt": {
            "username": "AC03",
            "password": (env.tmp / "gw-AC03" / "mqtt.password").read_text(),
        }
    }
    bad = env.provision("AC04", extra=creds)
    async with env.ingest(), env.gateway(bad) as gw:
        await gw.spool.put(
            "atg1", [InventoryRecord(ts=T0, tank=1, product="92", volume=1.0, height=1.0)]
        )
        await eventually(lambda: "135" in gw.publisher.state.last_error, what="refusal")
        assert "Not authorized" in gw.publisher.state.last_error
        assert gw.spool.stats().backlog == 1  # kept, not lost
    assert env.count("tank_inventory") == 0


async def test_gateway_keeps_records_whose_publish_is_refused(
    make_env: Callable[..., StackEnv],
    own_broker: Callable[..., Broker],
) -> None:
    broker = own_broker()
    env = make_env(broker_=broker)
    config = env.provision("AC05", extra={"publish": {"hold_on_reject": 0.5}})
    # An operator's too-narrow ACL: the station may publish its status but no device data.
    broker.files.acl_file.write_text(
        f"user AC05\ntopic write fuel/v1/+/AC05/{config.gateway_id}/status\n"
        f"pattern read ack/v1/+/%u/%c\nuser {CLOUD_USER}\ntopic read fuel/v1/#\n"
        "topic write ack/v1/#\n"
    )
    broker.reload()
    async with env.ingest(), env.gateway(config) as gw:
        await gw.spool.put(
            "atg1", [InventoryRecord(ts=T0, tank=1, product="92", volume=1.0, height=1.0)]
        )
        await eventually(lambda: gw.publisher.state.publish_errors >= 2, what="publish errors")
        assert "reason 135" in gw.publisher.state.last_error
        assert gw.spool.stats().backlog == 1  # kept, not lost
        gw.write_status_file()
        status = orjson.loads(gw.status_file.read_bytes())
        assert status["publish_errors"] >= 2
        assert status["spool_backlog"] == 1
        assert status["held_topics"] == [f"fuel/v1/{env.district}/AC05/atg1/inventory"]
        await env.wait_count("gateway_status", 1)  # what the ACL allows still flows
        # the operator fixes the ACL: the kept record goes out
        broker.files.acl_file.write_text(
            f"pattern write fuel/v1/+/%u/#\npattern read ack/v1/+/%u/%c\n"
            f"user {CLOUD_USER}\ntopic read fuel/v1/#\ntopic write ack/v1/#\n"
        )
        broker.reload()
        await env.wait_count("tank_inventory", 1)
        await eventually(lambda: gw.spool.stats().backlog == 0, what="spool drained")
