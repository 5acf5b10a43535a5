"""Sequence gaps and clock skew, seen on stored messages."""

from __future__ import annotations

import asyncio

from fuelwatch.cloud.ingest.streaming.rules import CLOCK_SKEW, SEQUENCE_GAP
from fuelwatch.core import wire
from fuelwatch.core.records import GatewayStatusRecord, InventoryRecord
from fuelwatch.core.wire import Signer
from fuelwatch.gateway.settings import GatewayConfig
from tests.streaming.support import (
    FAST,
    now_ms,
    signed,
    station_client,
    thresholds,
    topic_of,
    warnings,
)
from tests.support.env import StackEnv, eventually


def birth(env: StackEnv, config: GatewayConfig, seq: int) -> tuple[str, bytes]:
    topic = f"fuel/v1/{env.district}/{config.station}/{config.gateway_id}/status"
    t = now_ms()
    rec = GatewayStatusRecord(rid=seq, ts=t, gts=t, state="online", boot=1)
    payload = wire.encode(
        topic=topic,
        signer=Signer.from_file(config.signing_key),
        gateway_id=config.gateway_id,
        seq=seq,
        boot=1,
        sent=t,
        records=[rec],
    )
    return topic, payload


async def test_missing_sequence_numbers_raise_and_filling_them_clears(env: StackEnv) -> None:
    a = env.provision("SQ01")
    ta = topic_of(env, "SQ01")
    thresholds(env, SEQUENCE_GAP, min_missing=2, min_age_seconds=0)
    async with env.ingest(**FAST) as ingest, station_client(env, a) as ca:
        for seq in (1, 2, 4):
            await ca.publish(ta, signed(a, ta, seq))
        await env.wait_count("tank_inventory", 3)
        streaming = ingest.streaming
        assert streaming is not None
        ticks = streaming.stats.ticks
        await eventually(lambda: streaming.stats.ticks >= ticks + 3, what="3 rounds")
        assert warnings(env, SEQUENCE_GAP) == []  # one missing < min_missing
        await ca.publish(ta, signed(a, ta, 7))
        (w,) = await eventually(lambda: warnings(env, SEQUENCE_GAP), what="gap warning")
        ev = w["evidence"]
        assert (ev["hwm"], ev["missing"]) == (7, 3)
        assert [(r["from"], r["to"]) for r in ev["ranges"]] == [(3, 3), (5, 6)]
        assert w["subject"] == f"gateway:{a.gateway_id}"
        for seq in (3, 5, 6):  # late arrivals fill the holes
            await ca.publish(ta, signed(a, ta, seq))
        await eventually(lambda: warnings(env, SEQUENCE_GAP)[0]["cleared"], what="cleared")


async def test_the_unused_will_number_is_not_a_gap(env: StackEnv) -> None:
    a = env.provision("SQ02")
    ta = topic_of(env, "SQ02")
    thresholds(env, SEQUENCE_GAP, min_missing=1, min_age_seconds=0)
    async with env.ingest(**FAST), station_client(env, a) as ca:
        await ca.publish(ta, signed(a, ta, 1))
        # seq 2 = the Will signed at connect, discarded by a clean disconnect; 3 = the birth
        await ca.publish(*birth(env, a, 3))
        await ca.publish(ta, signed(a, ta, 5))  # 4 really is missing
        (w,) = await eventually(lambda: warnings(env, SEQUENCE_GAP), what="gap warning")
    assert [(r["from"], r["to"]) for r in w["evidence"]["ranges"]] == [(4, 4)]
    assert w["evidence"]["missing"] == 1


async def test_gateway_clock_behind_raises_skew_and_a_fixed_clock_clears_it(
    env: StackEnv,
) -> None:
    a = env.provision("CK01")
    b = env.provision("CK02")
    ta, tb = topic_of(env, "CK01"), topic_of(env, "CK02")
    thresholds(env, CLOCK_SKEW, skew_seconds=60, window_seconds=1, min_samples=2)
    async with (
        env.ingest(**FAST),
        station_client(env, a) as ca,
        station_client(env, b) as cb,
    ):
        # the offset must hold for a whole window of traffic before it is raised
        seq = 0
        while not warnings(env, CLOCK_SKEW):
            seq += 1
            assert seq < 100, "no skew warning after 100 messages"
            await ca.publish(ta, signed(a, ta, seq, sent=now_ms() - 3_600_000))  # 1 h behind
            await cb.publish(tb, signed(b, tb, seq))
            await asyncio.sleep(0.2)
        (w,) = warnings(env, CLOCK_SKEW)
        assert seq >= 3  # not on the first messages: held for the 1 s window
        ev = w["evidence"]
        assert 3_600_000 <= ev["offset_ms"] < 3_600_000 + 30_000
        assert ev["direction"] == "gateway_behind"
        assert ev["samples"] >= 2
        assert w["subject"] == f"gateway:{a.gateway_id}"
        await ca.publish(ta, signed(a, ta, seq + 1))  # clock fixed
        await eventually(lambda: warnings(env, CLOCK_SKEW)[0]["cleared"], what="cleared")
    assert [w["station"] for w in warnings(env, CLOCK_SKEW)] == ["CK01"]


async def test_device_clock_behind_the_gateway_raises_skew_for_the_device(env: StackEnv) -> None:
    a = env.provision("CK03")
    ta = topic_of(env, "CK03")
    thresholds(env, CLOCK_SKEW, skew_seconds=60, window_seconds=1, min_samples=2)
    signer = Signer.from_file(a.signing_key)
    async with env.ingest(**FAST), station_client(env, a) as ca:
        seq = 0
        while not warnings(env, CLOCK_SKEW):
            seq += 1
            assert seq < 100, "no skew warning after 100 messages"
            read_at = now_ms()
            rec = InventoryRecord(
                rid=seq,
                ts=read_at - 1_800_000,
                gts=read_at,
                tank=1,
                product="92",
                volume=1.0,
                height=1.0,
            )  # fmt: skip  (the gauge's clock is 30 min slow; the gateway's is right)
            payload = wire.encode(
                topic=ta, signer=signer, gateway_id=a.gateway_id, seq=seq, boot=1,
                sent=now_ms(), records=[rec],
            )  # fmt: skip
            await ca.publish(ta, payload)
            await asyncio.sleep(0.2)
    (w,) = warnings(env, CLOCK_SKEW)  # the device, not the gateway
    assert w["subject"] == "device:atg1"
    assert 1_800_000 <= w["evidence"]["offset_ms"] < 1_800_000 + 1000
    assert w["evidence"]["direction"] == "device_behind"
    assert "atg1" in w["title_en"]
    assert "设备" in w["title_zh"]
