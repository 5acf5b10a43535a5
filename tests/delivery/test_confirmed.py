"""PUBACK is not storage: records leave a gateway only when the cloud confirmed them."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fuelwatch.cloud.provisioning.passwords import PasswordFile
from fuelwatch.core import wire
from fuelwatch.core.records import InventoryRecord
from fuelwatch.core.wire import Signer
from tests.delivery.support import INGEST_ARGV, produce, stored_rids
from tests.delivery.test_identity import as_gateway
from tests.support.env import RECENT_T0, StackEnv, eventually
from tests.support.services import CLOUD_PASSWORD, CLOUD_USER, Broker


@pytest.mark.slow
async def test_records_the_broker_lost_after_its_puback_are_sent_again(
    make_env: Callable[..., StackEnv], own_broker: Callable[..., Broker]
) -> None:
    """The broker is killed with the envelopes queued for ingest (not yet saved to disk)."""
    broker = own_broker()
    env = make_env(broker_=broker)
    # small envelopes, so that 200 records make 40 of them: all PUBACKed, none confirmed
    config = env.provision(
        "PL01", extra={"publish": {"confirm_timeout": 3, "max_batch_records": 5}}
    )
    produced = 200
    async with env.ingest():
        pass  # ingest's persistent session exists at the broker; ingest is away now
    async with env.gateway(config) as gw:
        await gw.spool.put(
            "atg1",
            [
                InventoryRecord(
                    ts=RECENT_T0 + n, tank=1 + n % 4, product="92", volume=float(n), height=1.0
                )
                for n in range(1, produced + 1)
            ],
        )
        await eventually(
            lambda: gw.publisher.state.published_records == produced, what="all PUBACKed"
        )
        broker.kill()  # queued for ingest, PUBACKed, never written to disk: gone
        broker.start()
        assert gw.spool.stats().backlog == produced  # nothing was let go on a PUBACK
        async with env.ingest():
            await eventually(lambda: gw.spool.stats().backlog == 0, timeout=90, what="confirmed")
        assert gw.publisher.state.resent_batches >= 40
    assert stored_rids(env, "PL01") == list(range(1, produced + 1))


@pytest.mark.slow
async def test_the_cloud_account_refused_for_30s_mid_stream_loses_nothing(
    make_env: Callable[..., StackEnv], own_broker: Callable[..., Broker]
) -> None:
    broker = own_broker()
    env = make_env(broker_=broker)
    config = env.provision("CR01")
    stop = asyncio.Event()
    log = env.tmp / "ingest.log"
    passwd = PasswordFile(broker.files.password_file)

    def subscribed() -> int:
        return log.read_text(errors="replace").count("subscribed to") if log.exists() else 0

    async with env.gateway(config) as gw:
        producer = asyncio.create_task(produce(gw.spool.put, stop, rate=20))
        first = start_ingest(env, log)
        await eventually(lambda: subscribed() == 1, timeout=60, what="ingest up")
        await asyncio.sleep(5)
        # The cloud account stops working mid-stream: its worker restarts and is refused.
        passwd.set(CLOUD_USER, "not-the-password")
        passwd.save()
        broker.reload()
        stop_process(first)
        second = start_ingest(env, log)
        try:
            await asyncio.sleep(30)
            assert subscribed() == 1  # refused all along
            passwd.set(CLOUD_USER, CLOUD_PASSWORD)
            passwd.save()
            broker.reload()
            await eventually(lambda: subscribed() == 2, timeout=60, what="ingest back")
            stop.set()
            produced = await producer
            await eventually(lambda: gw.spool.stats().backlog == 0, timeout=120, what="confirmed")
        finally:
            stop_process(second)
    assert "ingest cannot subscribe" in log.read_text(errors="replace")
    assert stored_rids(env, "CR01") == list(range(1, produced + 1))


def start_ingest(env: StackEnv, log: Path) -> subprocess.Popen[bytes]:
    s = env.settings
    with log.open("ab") as out:
        return subprocess.Popen(
            INGEST_ARGV,
            env=env.process_env(
                FUELWATCH_INGEST_GROUP=s.ingest_group,
                FUELWATCH_INGEST_DISTRICT=s.ingest_district,
                FUELWATCH_INGEST_CLIENT_ID=s.ingest_client_id,
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


async def test_a_gap_makes_ingest_ask_for_the_missing_envelope(env: StackEnv) -> None:
    config = env.provision("GP01")
    topic = f"fuel/v1/{env.district}/GP01/atg1/inventory"

    def env_for(seq: int) -> bytes:
        rec = InventoryRecord(
            rid=seq, ts=RECENT_T0 + seq, tank=1, product="92", volume=1.0, height=1.0
        )
        return wire.encode(
            topic=topic,
            signer=Signer.from_file(config.signing_key),
            gateway_id=config.gateway_id,
            seq=seq,
            boot=1,
            sent=time.time_ns() // 1_000_000,
            records=[rec],
        )

    async with (
        env.ingest(ingest_gap_grace=0.5) as ingest,
        as_gateway(env, config) as (client, acks),
    ):
        await client.publish(topic, env_for(1))
        await client.publish(topic, env_for(3))  # 2 went missing on the way
        await eventually(lambda: any(a.resend for a in acks), what="a resend request")
        assert next(a.resend for a in acks if a.resend) == [(2, 2)]
        await client.publish(topic, env_for(2))
        await eventually(lambda: {s for a in acks for s in a.confirms()} == {1, 2, 3}, what="acks")
        await client.publish(topic, env_for(2))  # a second copy: confirmed again, not stored
        await eventually(lambda: ingest.stats.duplicates == 1, what="duplicate")
    assert stored_rids(env, "GP01") == [1, 2, 3]
