"""The README's first command: `fuelwatch demo` brings the whole local stack up and down."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_on_real_protocols_and_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fuelwatch.cli",
            "demo",
            "--state-dir",
            str(state),
            "--stations",
            "2",
            "--duration",
            "40",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    token = None
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Data is flowing" in line:
                # the management API is up with its first admin: log in while the demo runs
                password = (state / "admin.password").read_text().strip()
                resp = httpx.post(
                    "http://127.0.0.1:18080/api/v1/auth/token",
                    data={"username": "admin", "password": password},
                    timeout=10,
                )
                assert resp.status_code == 200, resp.text
                token = resp.json()["access_token"]
                stations = httpx.get(
                    "http://127.0.0.1:18080/api/v1/stations",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                )
                assert stations.status_code == 200, stations.text
                assert len(stations.json()["items"]) == 2, stations.text
        proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    out = "".join(lines)
    assert proc.returncode == 0, out[-3000:]
    assert token is not None, out[-3000:]
    assert "speaking TLS-350, Modbus and POS push" in out
    assert "Query it, for example" in out
    last = [line for line in out.splitlines() if line.strip().startswith("stored:")][-1]
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", last)}
    assert counts["tank_inventory"] >= 2 * 6  # both stations' 6 tanks, over TLS-350
    assert counts["totalizer"] >= 2 * 12  # both stations' 12 nozzles, over Modbus
    assert counts["gateway_status"] >= 2
    assert counts["rejected"] == 0
    assert "stopped." in out
    assert "started rule engine" in out
    assert "started alert sender" in out
    for name in ("ingest", "api", "rules", "alerts"):
        assert "Traceback" not in (state / "logs" / f"{name}.log").read_text(), name
    for log in (state / "logs").glob("gw-*.log"):
        text = log.read_text()
        assert "Traceback" not in text, log
        assert "stopped" in text, log
