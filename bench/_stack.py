"""Building blocks the benchmarks share: real influxd, Mosquitto and ingest processes on free
ports under one state folder, the cloud's environment for them, and small probes.

Used by bench/ingest.py and bench/detection.py; nothing here is a fake: every process is the
one production runs.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuelwatch.stack.broker import BrokerFiles, mosquitto_process, render_broker  # noqa: E402
from fuelwatch.stack.influxdb import influxd_process  # noqa: E402
from fuelwatch.stack.process import ManagedProcess, free_port  # noqa: E402

__all__ = [
    "CLOUD_PASSWORD",
    "CLOUD_USER",
    "cli",
    "cloud_env",
    "cpu_seconds",
    "influx_query",
    "ingest_process",
    "spool_backlog",
    "start_broker",
    "start_influx",
]

CLOUD_USER, CLOUD_PASSWORD = "fuelwatch-cloud", "bench-cloud"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def spool_backlog(path: Path) -> int:
    """Records still in a gateway spool (read directly from its SQLite file)."""
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=30) as db:
        return int(db.execute("SELECT count(*) FROM records").fetchone()[0])


def cli() -> list[str]:
    return [sys.executable, "-m", "fuelwatch.cli", "--log-level", "warning"]


def start_influx(state: Path) -> tuple[ManagedProcess, str]:
    """influxd on free ports with its data under ``state`` (reused if already there)."""
    port = free_port()
    proc = influxd_process(state, http_port=port, rpc_port=free_port())
    proc.start()
    return proc, f"http://127.0.0.1:{port}"


def start_broker(
    state: Path, files: BrokerFiles | None = None
) -> tuple[ManagedProcess, BrokerFiles]:
    """Mosquitto with the project's config; render it first (``files=None``) or reuse."""
    files = files or render_broker(
        state, port=free_port(), cloud_user=CLOUD_USER, cloud_password=CLOUD_PASSWORD
    )
    return mosquitto_process(files).start(), files


def cloud_env(
    *, registry_url: str, influx_url: str, mqtt_port: int, stats_interval: float = 2.0
) -> dict[str, str]:
    return {
        "FUELWATCH_ENVIRONMENT": "test",
        "FUELWATCH_REGISTRY_URL": registry_url,
        "FUELWATCH_INFLUX_URL": influx_url,
        "FUELWATCH_INFLUX_DB": "fuelwatch",
        "FUELWATCH_MQTT_PORT": str(mqtt_port),
        "FUELWATCH_MQTT_USERNAME": CLOUD_USER,
        "FUELWATCH_MQTT_PASSWORD": CLOUD_PASSWORD,
        "FUELWATCH_INGEST_STATS_INTERVAL": str(stats_interval),
        # The detection bench replays simulated months (sim scenarios start in 2025) through
        # gateways registered today; ingest would refuse that history as implausible.
        "FUELWATCH_INGEST_BEFORE_REGISTRATION_DAYS": "3650",
    }


def ingest_process(
    state: Path, env: dict[str, str], *, client_id: str = "ingest-1"
) -> ManagedProcess:
    return ManagedProcess(
        "ingest",
        [*cli(), "cloud", "ingest", "--client-id", client_id],
        log_file=state / "ingest.log",
        ready=lambda: True,
        env=env,
    )


def influx_query(url: str, db: str, q: str, *, timeout: float = 120) -> list[dict[str, Any]]:
    """The series of the first statement's result ([] when empty)."""
    resp = httpx.post(f"{url}/query", data={"db": db, "q": q, "epoch": "ms"}, timeout=timeout)
    resp.raise_for_status()
    result = resp.json()["results"][0]
    if "error" in result:
        raise RuntimeError(f"InfluxDB: {result['error']} ({q})")
    return list(result.get("series") or [])
