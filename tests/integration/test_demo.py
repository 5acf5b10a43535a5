"""The README's first command: `fuelwatch demo` brings the whole local stack up, shows its fraud
station's warning (category, station, evidence link) and its MQTT alert, and comes down."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fuelwatch.stack.process import free_port

pytestmark = pytest.mark.slow


def _console_login(password: str, api_port: int) -> str:
    """Log in through the console's form (CSRF token from the page); the stations page."""
    with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as client:
        form = client.get("/console/login")
        assert form.status_code == 200, form.text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
        assert csrf is not None, form.text
        resp = client.post(
            "/console/login",
            data={"csrf": csrf.group(1), "username": "admin", "password": password},
        )
        assert resp.status_code == 303, resp.text
        assert resp.headers["location"] == "/console/"
        page = client.get("/console/stations")
        assert page.status_code == 200, page.text
        return page.text


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo_ports(stations: int) -> list[int]:
    """Free ports for the demo (never its fixed defaults: a demo may be running here)."""
    for _ in range(200):
        base = random.randrange(20_000, 60_000, 100)
        if all(_free(base + 10 * i + k) for i in range(stations) for k in range(1, 5)):
            return [free_port(), free_port(), free_port(), free_port(), base]
    raise RuntimeError("no free block of station ports")


def demo_argv(state: Path, ports: list[int], stations: int, duration: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fuelwatch.cli",
        "demo",
        "--state-dir",
        str(state),
        "--stations",
        str(stations),
        "--duration",
        str(duration),
        "--ports",
        ",".join(map(str, ports)),
    ]


@pytest.mark.timeout(700)
def test_demo_runs_on_real_protocols_shows_the_fraud_and_stops_cleanly(tmp_path: Path) -> None:
    """Within minutes the fraud station's warning is printed (category, station, evidence
    link) and its alert is seen on MQTT; then Ctrl-C stops the demo cleanly."""
    state = tmp_path / "state"
    ports = demo_ports(2)
    api = f"http://127.0.0.1:{ports[3]}"
    proc = subprocess.Popen(
        demo_argv(state, ports, 2, 600),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    token = None
    console: str | None = None
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Data is flowing" in line:
                # the management API is up with its first admin: log in while the demo runs
                password = (state / "admin.password").read_text().strip()
                resp = httpx.post(
                    f"{api}/api/v1/auth/token",
                    data={"username": "admin", "password": password},
                    timeout=10,
                )
                assert resp.status_code == 200, resp.text
                token = resp.json()["access_token"]
                stations = httpx.get(
                    f"{api}/api/v1/stations",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                )
                assert stations.status_code == 200, stations.text
                assert len(stations.json()["items"]) == 2, stations.text
                # separation of duties: the system administrator reads no audit log
                audit = httpx.get(
                    f"{api}/api/v1/audit",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                )
                assert audit.status_code == 403, audit.text
                console = _console_login(password, ports[3])
            if "✉ alert on MQTT" in line:
                proc.send_signal(signal.SIGINT)  # seen what the demo shows: Ctrl-C
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    out = "".join(lines)
    assert proc.returncode == 0, out[-3000:]
    assert token is not None, out[-3000:]
    # the console's address is printed, and the admin's password opens it
    assert f"console    {api}/console/  user 'admin'" in out
    assert console is not None
    assert "BI0001" in console
    assert "JD0002" in console
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
    # the fraud station's tampered totalizer, printed with its link, and its alert on MQTT
    assert "runs a fraud: nozzle 1's totalizer jumps 500 L" in out
    assert re.search(
        r"⚠ warning #\d+ 泵码篡改 Totalizer tampering \(totalizer_tampering\) at station "
        rf"BI0001, nozzle:1: .*\n +evidence: {re.escape(api)}/api/v1/warnings/\d+",
        out,
    ), out[-3000:]
    assert "✉ alert on MQTT alerts/v1/binhai/BI0001/totalizer_tampering" in out, out[-3000:]
    for name in ("ingest", "api", "rules", "alerts"):
        assert "Traceback" not in (state / "logs" / f"{name}.log").read_text(), name
    for log in (state / "logs").glob("gw-*.log"):
        text = log.read_text()
        assert "Traceback" not in text, log
        assert "stopped" in text, log


def _children_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


def test_ctrl_c_with_a_closed_stdout_pipe_stops_every_child(tmp_path: Path) -> None:
    """`fw demo | tee log`, Ctrl-C: tee dies first, and the demo must still stop everything."""
    state = tmp_path / "state"
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        demo_argv(state, demo_ports(1), 1, 600), stdout=write_end, stderr=subprocess.STDOUT
    )
    os.close(write_end)
    reader = os.fdopen(read_end, "rb")
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 180
        out = b""
        while b"Data is flowing" not in out and time.monotonic() < deadline:
            chunk = reader.read1(4096)
            if not chunk:
                break
            out += chunk
        pids = [int(p) for p in re.findall(rb"\(pid (\d+)\)", out)]
        assert len(pids) >= 6, out.decode(errors="replace")[-2000:]
        reader.close()  # the reader is gone: every later print hits a closed pipe
        proc.send_signal(signal.SIGINT)
        assert proc.wait(120) == 0
    finally:
        reader.close()  # again on a failure: no unclosed pipe left for a later test to trip on
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 30
    while _children_alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _children_alive(pids) == []


def test_a_busy_port_is_named_with_its_holder(tmp_path: Path) -> None:
    ports = demo_ports(1)
    with socket.socket() as held:
        held.bind(("127.0.0.1", ports[0]))
        held.listen()
        done = subprocess.run(
            demo_argv(tmp_path / "state", ports, 1, 5), capture_output=True, text=True, check=False
        )
    assert done.returncode != 0
    assert f"port {ports[0]} is in use by python" in done.stderr + done.stdout
    assert f"(pid {os.getpid()})" in done.stderr + done.stdout
