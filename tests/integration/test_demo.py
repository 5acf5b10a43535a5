"""The README's first command: `fuelwatch demo` brings the whole local stack up and down."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_on_real_protocols_and_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.run(
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
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "speaking TLS-350, Modbus and POS push" in out
    assert "Query it, for example" in out
    last = [line for line in out.splitlines() if line.strip().startswith("stored:")][-1]
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", last)}
    assert counts["tank_inventory"] >= 2 * 6  # both stations' 6 tanks, over TLS-350
    assert counts["totalizer"] >= 2 * 12  # both stations' 12 nozzles, over Modbus
    assert counts["gateway_status"] >= 2
    assert counts["rejected"] == 0
    assert "stopped." in out
    for log in (state / "logs").glob("gw-*.log"):
        text = log.read_text()
        assert "Traceback" not in text, log
        assert "stopped" in text, log
