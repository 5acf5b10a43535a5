"""Shared parts of the delivery tests: honest producers, stored rids, process probes."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fuelwatch.core.records import InventoryRecord
from tests.support.env import RECENT_T0, StackEnv, eventually

INGEST_ARGV = [sys.executable, "-m", "fuelwatch.cli", "--log-level", "info", "cloud", "ingest"]


async def produce(
    spool_put: Callable[..., object], stop: asyncio.Event, *, rate: float = 10.0, tanks: int = 4
) -> int:
    """One reading every 1/rate s into a gateway's spool until stopped; return how many."""
    n = 0
    start = time.monotonic()
    while not stop.is_set():
        n += 1
        await spool_put(
            "atg1",
            [
                InventoryRecord(
                    ts=RECENT_T0 + n, tank=1 + n % tanks, product="92", volume=float(n), height=1.0
                )
            ],
        )
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
    return n


def stored_rids(env: StackEnv, station: str, measurement: str = "tank_inventory") -> list[int]:
    rows = env.query(f'SELECT "rid" FROM "{measurement}" WHERE "station" = \'{station}\'')
    return sorted(int(r["rid"]) for r in rows)  # type: ignore[call-overload]


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.asynccontextmanager
async def ingest_process(
    env: StackEnv, log: Path, **extra: str
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``fuelwatch cloud ingest`` as the demo and docker-compose start it."""
    s = env.settings
    proc_env = env.process_env(
        FUELWATCH_INGEST_GROUP=s.ingest_group,
        FUELWATCH_INGEST_DISTRICT=s.ingest_district,
        FUELWATCH_INGEST_CLIENT_ID=s.ingest_client_id,
        FUELWATCH_INGEST_SESSION_EXPIRY="600",
        **extra,
    )
    with log.open("ab") as out:
        proc = subprocess.Popen(INGEST_ARGV, env=proc_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        await eventually(
            lambda: "subscribed to" in log.read_text(errors="replace"),
            timeout=60,
            what="ingest subscribed",
        )
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
