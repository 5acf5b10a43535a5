"""The spool never stops collecting: on a full disk or its size cap it drops the oldest,
counts and logs each drop, raises an alarm in the status, and the adapters keep reading.

Before (issue 12): on a 2 MB filesystem the spool hit ``database or disk is full``, every
adapter crashed and restarted with backoff, nothing was collected meanwhile, no ``SPOOL FULL``
line, ``spool_dropped`` stayed 0 and status.json froze at boot.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fuelwatch.stack.process import free_port
from tests.support.env import StackEnv, eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted for this test and removed after it (needs root, as in CI)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def last_rid(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
    return int(row[0]) if row else 0


def gateway_config(env: StackEnv, station: str, spool: Path, **spool_extra: Any) -> Path:
    """A gateway with a fast simulated tank gauge and no broker to talk to."""
    config = env.provision(station)
    cfg_file = config.signing_key.parent / "gateway.yaml"
    data = yaml.safe_load(cfg_file.read_text())
    data["mqtt"]["port"] = free_port()  # nothing listens there: the spool only grows
    data["spool"] = {"path": str(spool), "synchronous": "normal", **spool_extra}
    data["devices"] = [
        {"type": "simulated_tank_gauge", "id": "atg1", "tanks": 8, "poll_interval": 0.01}
    ]
    cfg_file.write_text(yaml.safe_dump(data))
    return cfg_file


async def run_until_full(cfg_file: Path, spool: Path, log: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "fuelwatch.cli", "gateway", "run", "-c", str(cfg_file)]
    status_file = spool.with_name("status.json")
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        await eventually(
            lambda: status_file.exists() and json.loads(status_file.read_text())["spool_dropped"],
            timeout=90,
            what="drops in status.json",
        )
        before = last_rid(spool)
        await asyncio.sleep(3)
        assert last_rid(spool) > before  # still collecting after the drops
        status = json.loads(status_file.read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    return status


async def test_a_full_disk_drops_the_oldest_and_collection_goes_on(
    env: StackEnv, tiny_fs: Path
) -> None:
    spool = tiny_fs / "spool.db"
    log = env.tmp / "gw.log"
    status = await run_until_full(gateway_config(env, "SF01", spool), spool, log)
    text = log.read_text(errors="replace")
    assert "crashed" not in text  # no adapter restart
    assert "Traceback" not in text
    assert "SPOOL FULL" in text
    assert "disk full" in text
    assert status["spool_dropped"] > 0
    assert status["alarms"].startswith("spool_full")
    assert status["devices"] == "atg1=ok"
    with sqlite3.connect(spool) as conn:
        oldest = conn.execute("SELECT min(id) FROM records").fetchone()[0]
        dropped = conn.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()[0]
    assert "new records lost" not in text  # room was always made for the new readings
    assert oldest == dropped + 1  # exactly the oldest went, and each one is counted


async def test_the_size_cap_drops_the_oldest_and_collection_goes_on(env: StackEnv) -> None:
    spool = env.tmp / "capped" / "spool.db"
    log = env.tmp / "gw-cap.log"
    cfg = gateway_config(env, "SF02", spool, max_bytes=200_000)
    status = await run_until_full(cfg, spool, log)
    text = log.read_text(errors="replace")
    assert "crashed" not in text
    assert "SPOOL FULL" in text
    assert "200000-byte cap" in text
    assert status["alarms"] == "spool_full: oldest records dropped"
    with sqlite3.connect(spool) as conn:
        oldest, size = conn.execute("SELECT min(id), sum(length(body)) FROM records").fetchone()
        dropped = conn.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()[0]
    assert oldest == dropped + 1
    assert size <= 200_000
