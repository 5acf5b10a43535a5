"""Faults on real processes: nothing lost, nothing doubled.

Each test breaks a service for tens of seconds while a station keeps producing, then checks
the stored records against what the gateway committed to its spool, record id by record id.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from fuelwatch.core.records import InventoryRecord
from fuelwatch.gateway.settings import GatewayConfig
from fuelwatch.stack.process import free_port
from tests.support.env import RECENT_T0, StackEnv, eventually
from tests.support.services import Broker, Influx

pytestmark = pytest.mark.slow

OUTAGE = 30.0
DATA_MEASUREMENTS = (
    "tank_inventory",
    "dispenser_transaction",
    "nozzle_event",
    "totalizer",
    "device_alarm",
)


def stored_rids(env: StackEnv, measurements: tuple[str, ...] = DATA_MEASUREMENTS) -> list[int]:
    rids: list[int] = []
    for m in measurements:
        try:
            rids += [int(r["rid"]) for r in env.query(f'SELECT "rid" FROM "{m}"')]  # type: ignore[call-overload]
        except RuntimeError:
            continue
    return rids


async def produce(
    config: GatewayConfig,
    spool_put: Callable[..., object],
    stop: asyncio.Event,
    rate: float = 100.0,
) -> int:
    """Put readings into the gateway's spool at ``rate``/s until stopped; return how many."""
    n = 0
    start = time.monotonic()
    while not stop.is_set():
        n += 1
        await spool_put(
            "atg1",
            [
                InventoryRecord(
                    ts=RECENT_T0 + n,
                    tank=1 + n % 4,
                    product="92",
                    volume=float(n),
                    height=1.0,
                )
            ],
        )
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
    return n


async def test_broker_down_for_30s(
    make_env: Callable[..., StackEnv], own_broker: Callable[..., Broker]
) -> None:
    broker = own_broker()
    env = make_env(broker_=broker)
    config = env.provision("FB01")
    stop = asyncio.Event()
    async with env.ingest(), env.gateway(config) as gw:
        producer = asyncio.create_task(produce(config, gw.spool.put, stop))
        await asyncio.sleep(5)
        broker.stop()
        await asyncio.sleep(OUTAGE)
        assert gw.spool.stats().backlog > 1000  # the gateway kept producing into its spool
        broker.start()
        await asyncio.sleep(5)
        stop.set()
        produced = await producer
        await eventually(lambda: gw.spool.stats().backlog == 0, timeout=90, what="spool drained")
        await env.wait_count("tank_inventory", produced, timeout=60)
    rids = stored_rids(env)
    assert len(rids) == produced
    assert sorted(rids) == list(range(1, produced + 1))


async def test_influxdb_down_for_30s_under_load(
    make_env: Callable[..., StackEnv], own_influx: Callable[[], Influx]
) -> None:
    influx = own_influx()
    env = make_env(influx_=influx)
    config = env.provision("FI01")
    stop = asyncio.Event()
    async with env.ingest() as ingest, env.gateway(config) as gw:
        producer = asyncio.create_task(produce(config, gw.spool.put, stop))
        await asyncio.sleep(5)
        influx.stop()
        await asyncio.sleep(OUTAGE)
        assert ingest.writer.outage
        influx.start()
        await asyncio.sleep(5)
        stop.set()
        produced = await producer
        await env.wait_count("tank_inventory", produced, timeout=90)
        assert ingest.stats.rejected.total() == 0
    rids = stored_rids(env)
    assert len(rids) == produced
    assert sorted(rids) == list(range(1, produced + 1))


def committed_rids(spool_db: Path) -> int:
    with sqlite3.connect(spool_db) as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
    return int(row[0]) if row else 0


async def test_gateway_sigkill_mid_flight(env: StackEnv) -> None:
    config = env.provision("FK01")
    cfg_file = config.signing_key.parent / "gateway.yaml"
    data = yaml.safe_load(cfg_file.read_text())
    data["devices"] = [
        {"type": "simulated_tank_gauge", "id": "atg1", "tanks": 8, "poll_interval": 0.02},
        {
            "type": "simulated_dispenser",
            "id": "disp1",
            "nozzles": 8,
            "poll_interval": 0.05,
            "sale_probability": 0.5,
        },
    ]
    cfg_file.write_text(yaml.safe_dump(data))
    argv = [
        sys.executable,
        "-m",
        "fuelwatch.cli",
        "--log-level",
        "warning",
        "gateway",
        "run",
        "-c",
        str(cfg_file),
    ]
    async with env.ingest():
        for _ in range(3):
            proc = subprocess.Popen(argv)
            await asyncio.sleep(4)
            proc.send_signal(signal.SIGKILL)  # mid-flight: publishing and spooling
            proc.wait(10)
        before = committed_rids(config.spool.path)
        proc = subprocess.Popen(argv)
        # running (signal handlers in place) once it spools again; start-up is slow when busy
        await eventually(
            lambda: committed_rids(config.spool.path) > before, timeout=60, what="gateway up"
        )
        await asyncio.sleep(2)
        proc.send_signal(signal.SIGTERM)  # a clean stop, too
        assert proc.wait(20) == 0
        # Drain what is still spooled with the same gateway, devices switched off.
        data["devices"] = []
        cfg_file.write_text(yaml.safe_dump(data))
        expected = committed_rids(config.spool.path)
        proc = subprocess.Popen(argv)
        try:
            await eventually(
                lambda: len(stored_rids(env)) >= expected, timeout=60, what=f"{expected} records"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    rids = stored_rids(env)
    assert expected > 1000
    assert len(rids) == len(set(rids))  # zero duplicated
    assert sorted(rids) == list(range(1, expected + 1))  # zero lost


def ingest_process_env(env: StackEnv, client_id: str) -> dict[str, str]:
    s = env.settings
    return env.process_env(
        FUELWATCH_INGEST_GROUP=s.ingest_group,
        FUELWATCH_INGEST_DISTRICT=s.ingest_district,
        FUELWATCH_INGEST_CLIENT_ID=client_id,
    )


def _ops(port: int, path: str) -> str | None:
    try:
        resp = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
    except httpx.HTTPError:
        return None
    return resp.text if resp.status_code == 200 else None


def _accepted_records(port: int) -> float:
    for line in (_ops(port, "/metrics") or "").splitlines():
        if line.startswith("fuelwatch_ingest_accepted_records_total"):
            return float(line.split()[-1])
    return 0.0


async def test_second_ingest_worker_killed_and_restarted(env: StackEnv) -> None:
    """Two workers share the subscription; one dies with SIGKILL mid-flight and comes back.

    Mosquitto 2.0 keeps routing the dead worker's share to its persistent session, so its
    messages wait for it (none are lost) and are stored once it is back.
    """
    config = env.provision("FW01")
    argv = [sys.executable, "-m", "fuelwatch.cli", "--log-level", "warning", "cloud", "ingest"]
    ops_port = free_port()
    worker_env = {
        **ingest_process_env(env, f"{env.settings.ingest_client_id}-b"),
        "FUELWATCH_INGEST_OPS_PORT": str(ops_port),
    }
    stop = asyncio.Event()
    async with env.ingest() as first, env.gateway(config) as gw:
        second = subprocess.Popen(argv, env=worker_env)
        # subscribed before the load starts, and killed only once it has stored some of it:
        # on a busy machine the worker's start-up alone can take longer than a fixed sleep
        await eventually(lambda: _ops(ops_port, "/health"), timeout=60, what="second worker up")
        producer = asyncio.create_task(produce(config, gw.spool.put, stop))
        await eventually(
            lambda: _accepted_records(ops_port) > 0, timeout=60, what="second worker storing"
        )
        await asyncio.sleep(2)
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        await asyncio.sleep(5)
        second = subprocess.Popen(argv, env=worker_env)
        await asyncio.sleep(4)
        stop.set()
        produced = await producer
        try:
            await env.wait_count("tank_inventory", produced, timeout=60)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
        assert 0 < first.stats.accepted_records < produced  # the load really was shared
    rids = stored_rids(env)
    assert len(rids) == produced
    assert sorted(rids) == list(range(1, produced + 1))
