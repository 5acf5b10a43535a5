"""A clean station, a clean restart, tight thresholds: no cloud_data warning at all."""

from __future__ import annotations

import asyncio

from fuelwatch.cloud.ingest.streaming.rules import (
    CLOCK_SKEW,
    GATEWAY_OFFLINE,
    GATEWAY_SILENT,
    REJECTED_DATA,
    SEQUENCE_GAP,
    SIGNATURE_FAILURE,
)
from tests.streaming.support import FAST, thresholds, warnings
from tests.support.env import StackEnv, eventually

DEVICES = {
    "devices": [
        {"type": "simulated_tank_gauge", "id": "atg1", "tanks": 3, "poll_interval": 0.2},
        {
            "type": "simulated_dispenser",
            "id": "disp1",
            "nozzles": 4,
            "poll_interval": 0.1,
            "sale_probability": 0.3,
        },
    ]
}


async def test_clean_station_with_a_clean_restart_raises_nothing(env: StackEnv) -> None:
    config = env.provision("CL01", extra=DEVICES)
    thresholds(env, SIGNATURE_FAILURE, min_failures=1, window_seconds=60)
    thresholds(env, REJECTED_DATA, min_rejections=1, window_seconds=60)
    thresholds(env, GATEWAY_OFFLINE, grace_seconds=10)
    thresholds(env, GATEWAY_SILENT, silent_seconds=8)  # status every 5 s, data all the time
    # tight, but above what a loaded test machine does to an honest pipeline: holes between
    # two parallel flushes last as long as an InfluxDB write; publish->stored takes seconds
    thresholds(env, SEQUENCE_GAP, min_missing=1, min_age_seconds=4)
    thresholds(env, CLOCK_SKEW, skew_seconds=10, window_seconds=3, min_samples=2)
    async with env.ingest(**FAST) as ingest:
        streaming = ingest.streaming
        assert streaming is not None
        async with env.gateway(config):
            await env.wait_count("tank_inventory", 20)
            await asyncio.sleep(4)
        # a clean stop: explicit offline status; the Will's number stays unused
        async with env.gateway(config):
            await eventually(
                lambda: env.count("gateway_status", "WHERE \"state\" = 'online'") >= 2,
                what="second birth",
            )
            await asyncio.sleep(6)  # the restart's skipped numbers age past min_age_seconds
        ticks = streaming.stats.ticks
        await eventually(lambda: streaming.stats.ticks >= ticks + 5, what="5 more rounds")
        assert ingest.stats.accepted_records > 100
        assert sum(ingest.stats.rejected.values()) == 0
        assert streaming.stats.overflow == 0
        assert streaming.stats.tick_errors == 0
    for rule_id in (
        SIGNATURE_FAILURE,
        REJECTED_DATA,
        GATEWAY_OFFLINE,
        GATEWAY_SILENT,
        SEQUENCE_GAP,
        CLOCK_SKEW,
    ):
        assert warnings(env, rule_id) == [], (
            rule_id,
            [w["evidence"] for w in warnings(env, rule_id)],
        )
