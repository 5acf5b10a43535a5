"""A gateway that goes away: offline by its MQTT Will, silent without one; back = cleared."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest
import yaml
from sqlalchemy import select

from fuelwatch.cloud.ingest.streaming.rules import GATEWAY_OFFLINE, GATEWAY_SILENT
from fuelwatch.cloud.store.models.registry import GatewayKey
from fuelwatch.cloud.store.registry import revoke_key
from fuelwatch.gateway.settings import GatewayConfig
from tests.streaming.support import FAST, signed, station_client, thresholds, topic_of, warnings
from tests.support.env import StackEnv, eventually


@pytest.fixture
def gateway_argv() -> list[str]:
    return [sys.executable, "-m", "fuelwatch.cli", "--log-level", "warning", "gateway", "run", "-c"]


def no_devices(config: GatewayConfig) -> str:
    cfg_file = config.signing_key.parent / "gateway.yaml"
    data = yaml.safe_load(cfg_file.read_text())
    data["devices"] = []
    cfg_file.write_text(yaml.safe_dump(data))
    return str(cfg_file)


def statuses(env: StackEnv, state: str) -> int:
    return env.count("gateway_status", f"WHERE \"state\" = '{state}'")


async def test_will_raises_offline_and_reconnect_clears_it(
    env: StackEnv, gateway_argv: list[str]
) -> None:
    config = env.provision("OF01")
    argv = [*gateway_argv, no_devices(config)]
    thresholds(env, GATEWAY_OFFLINE, grace_seconds=1)
    async with env.ingest(**FAST):
        proc = subprocess.Popen(argv)
        try:
            await eventually(lambda: statuses(env, "online") >= 1, what="birth stored")
            proc.send_signal(signal.SIGKILL)  # no goodbye: the broker publishes the Will
            proc.wait(10)
            await eventually(lambda: statuses(env, "offline") >= 1, what="Will stored")
            (w,) = await eventually(lambda: warnings(env, GATEWAY_OFFLINE), what="warning")
            assert (w["station"], w["subject"], w["severity"]) == (
                "OF01",
                f"gateway:{config.gateway_id}",
                "high",
            )
            assert w["evidence"]["gateway"] == config.gateway_id
            assert w["evidence"]["grace_seconds"] == 1
            assert w["evidence"]["offline_since"]
            assert "离线" in w["title_zh"]
            assert "offline" in w["title_en"]
            assert not w["cleared"]
            proc = subprocess.Popen(argv)
            await eventually(
                lambda: warnings(env, GATEWAY_OFFLINE)[0]["cleared"], what="cleared on birth"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    (w,) = warnings(env, GATEWAY_OFFLINE)
    assert w["events"] == ["opened", "cleared"]


async def test_a_restart_within_the_grace_period_raises_nothing(
    env: StackEnv, gateway_argv: list[str]
) -> None:
    config = env.provision("OF02")
    argv = [*gateway_argv, no_devices(config)]
    grace = 15
    thresholds(env, GATEWAY_OFFLINE, grace_seconds=grace)
    async with env.ingest(**FAST) as ingest:
        proc = subprocess.Popen(argv)
        try:
            await eventually(lambda: statuses(env, "online") >= 1, what="birth stored")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            await eventually(lambda: statuses(env, "offline") >= 1, what="Will stored")
            will_seen = time.monotonic()
            proc = subprocess.Popen(argv)
            await eventually(lambda: statuses(env, "online") >= 2, what="second birth")
            assert time.monotonic() - will_seen < grace  # back within the grace period
            # past the grace period: a warning would be raised by now had the birth not counted
            await asyncio.sleep(max(0.0, will_seen + grace + 1 - time.monotonic()))
            streaming = ingest.streaming
            assert streaming is not None
            ticks = streaming.stats.ticks
            await eventually(lambda: streaming.stats.ticks >= ticks + 3, what="3 more rounds")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    assert warnings(env, GATEWAY_OFFLINE) == []


async def test_silent_gateway_without_a_will(env: StackEnv) -> None:
    a = env.provision("SL01")
    env.provision("SL02")  # registered, never published: nothing to miss
    retired = env.provision("SL03")  # published, then re-provisioned: its key revoked
    ta, tr = topic_of(env, "SL01"), topic_of(env, "SL03")
    thresholds(env, GATEWAY_SILENT, silent_seconds=2)
    async with env.ingest(**FAST), station_client(env, a) as ca:
        async with station_client(env, retired) as cr:
            await cr.publish(tr, signed(retired, tr, 1))
            await env.wait_count("tank_inventory", 1)
        with env.sessions.begin() as session:
            for key in session.scalars(
                select(GatewayKey).where(GatewayKey.gateway_id == retired.gateway_id)
            ):
                revoke_key(session, kid=key.kid)
        await ca.publish(ta, signed(a, ta, 1))
        (w,) = await eventually(lambda: warnings(env, GATEWAY_SILENT), what="silent warning")
        assert (w["station"], w["subject"]) == ("SL01", f"gateway:{a.gateway_id}")
        assert w["evidence"]["silent_seconds"] >= 2
        assert w["evidence"]["threshold_seconds"] == 2
        await ca.publish(ta, signed(a, ta, 2))
        await eventually(lambda: warnings(env, GATEWAY_SILENT)[0]["cleared"], what="cleared")
    assert [w["station"] for w in warnings(env, GATEWAY_SILENT)] == ["SL01"]
