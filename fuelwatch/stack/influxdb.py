"""InfluxDB 1.x for the local stack (Debian's influxdb package: influxd 1.6.7)."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

from fuelwatch.stack.process import ManagedProcess, ServiceError

__all__ = ["influxd_process"]

TEMPLATE = Path(__file__).with_name("influxdb.conf.tmpl")


def _ping(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=0.5) as resp:
            return bool(resp.status == 204)
    except OSError:
        return False


def influxd_process(
    state_dir: Path,
    *,
    http_port: int,
    rpc_port: int,
    bind: str = "127.0.0.1",
    cq_interval: str = "10s",
) -> ManagedProcess:
    binary = shutil.which("influxd") or (
        "/usr/bin/influxd" if Path("/usr/bin/influxd").exists() else None
    )
    if binary is None:
        raise ServiceError("influxd is not installed (apt-get install -y influxdb)")
    state_dir.mkdir(parents=True, exist_ok=True)
    conf = state_dir / "influxdb.conf"
    conf.write_text(
        TEMPLATE.read_text(encoding="utf-8").format(
            dir=state_dir,
            rpc_port=rpc_port,
            http_port=http_port,
            bind=bind,
            cq_interval=cq_interval,
        ),
        encoding="utf-8",
    )
    return ManagedProcess(
        "influxd",
        [binary, "-config", str(conf)],
        log_file=state_dir / "influxd.log",
        ready=lambda: _ping(http_port),
    )
