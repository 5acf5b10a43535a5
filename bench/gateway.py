"""Gateway footprint: one 6-tank, 12-nozzle station at real-time rates, on real protocols.

The station simulator serves TLS-350 (6 tanks), two Modbus dispenser collectors (12 nozzles)
and POS pushes at simulated speed 1 (real time); one gateway process reads them (TLS-350 every
10 s, Modbus every 1 s, POS as pushed) and publishes to Mosquitto, with ingest and InfluxDB
running as in the demo. Samples the gateway's RSS and CPU time from /proc.

    python bench/gateway.py [--duration 300] [--python PATH] [--record]

``--python`` runs the gateway with another interpreter, e.g. the one of a venv that has only
the station install (``pip install fuelwatch``): what a station box runs. Everything else
(simulator, broker, ingest, InfluxDB) runs from this checkout.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import cpu_seconds  # noqa: E402
from bench.report import record  # noqa: E402
from fuelwatch.cloud.provisioning.service import provision_gateway  # noqa: E402
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from fuelwatch.stack.broker import mosquitto_process, render_broker  # noqa: E402
from fuelwatch.stack.influxdb import influxd_process  # noqa: E402
from fuelwatch.stack.process import ManagedProcess, free_port  # noqa: E402
from fuelwatch.stack.stations import simulator_process, station_devices, station_ports  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def count(url: str, measurement: str) -> int:
    resp = httpx.post(
        f"{url}/query", data={"db": "fuelwatch", "q": f'SELECT count("rid") FROM "{measurement}"'}
    )
    series = resp.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


TARGET_MB = 50  # a station box's budget for the gateway process (issues 3 and 10)

# What the gateway's interpreter has installed: the report says which install was measured.
PROBE = """
import importlib.metadata as md, importlib.util as u, sys
dists = sorted({d.metadata["Name"].lower() for d in md.distributions()} - {"pip", "setuptools"})
server = [m for m in ("fastapi", "sqlalchemy", "openpyxl", "uvicorn") if u.find_spec(m)]
print(sys.prefix, len(dists), ",".join(server) or "-")
"""


def describe_install(python: str, *, cwd: Path) -> str:
    out = subprocess.run(
        [python, "-c", PROBE], capture_output=True, text=True, check=True, cwd=cwd
    ).stdout.split()
    count, server = out[1], out[2]
    if server == "-":
        return f"the station install (`pip install fuelwatch`: {count} distributions)"
    return f"a venv with the server side too ({server}; {count} distributions)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter that runs the gateway (default: this one)",
    )
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    state = Path(tempfile.mkdtemp(prefix="fw-gwbench-"))
    logs = state / "logs"
    logs.mkdir()
    http, mqtt = free_port(), free_port()
    url = f"http://127.0.0.1:{http}"
    files = render_broker(
        state / "broker", port=mqtt, cloud_user="fuelwatch-cloud", cloud_password="bench"
    )
    registry = f"sqlite:///{state / 'registry.db'}"
    engine = make_engine(registry)
    upgrade(engine)
    ports = station_ports(0, base=free_port() // 10 * 10 - 100)
    bundle = provision_gateway(
        make_sessionmaker(engine),
        district="bench",
        station="GB0001",
        gateway="gw-GB0001",
        out_dir=state / "gw",
        password_file=files.password_file,
        mqtt_port=mqtt,
        devices=station_devices(ports),
    )
    cli = [sys.executable, "-m", "fuelwatch.cli", "--log-level", "warning"]
    gateway_cli = [args.python, *cli[1:]]
    install = describe_install(args.python, cwd=state)
    env = {
        "FUELWATCH_REGISTRY_URL": registry,
        "FUELWATCH_INFLUX_URL": url,
        "FUELWATCH_MQTT_PORT": str(mqtt),
        "FUELWATCH_MQTT_PASSWORD": "bench",
    }
    procs = [
        influxd_process(state / "influx", http_port=http, rpc_port=free_port()),
        mosquitto_process(files),
        ManagedProcess(
            "ingest",
            [*cli, "cloud", "ingest"],
            log_file=logs / "ingest.log",
            ready=lambda: True,
            env=env,
        ),
        simulator_process(cli, state, logs, "GB0001", "bench", 0, "run", ports=ports),
    ]
    gateway = ManagedProcess(
        "gateway",
        [*gateway_cli, "gateway", "run", "-c", str(bundle.config_file)],
        log_file=logs / "gateway.log",
        ready=lambda: True,
        cwd=state,  # `-m` puts the cwd first on sys.path: not this checkout, the venv's own
    )
    try:
        for p in procs:
            p.start()
        gateway.start()
        assert gateway.pid is not None
        time.sleep(20)  # start-up, first polls, first connect
        cpu0, t0 = cpu_seconds(gateway.pid), time.monotonic()
        stored0 = {
            m: count(url, m)
            for m in (
                "tank_inventory",
                "totalizer",
                "nozzle_event",
                "dispenser_transaction",
                "pos_sale",
            )
        }
        peak, samples = 0.0, []
        while time.monotonic() - t0 < args.duration:
            time.sleep(5)
            rss = rss_mb(gateway.pid)
            samples.append(rss)
            peak = max(peak, rss)
            print(f"  t={time.monotonic() - t0:5.0f}s RSS {rss:5.1f} MB", flush=True)
        elapsed = time.monotonic() - t0
        cpu = (cpu_seconds(gateway.pid) - cpu0) / elapsed
        stored = {m: count(url, m) - n for m, n in stored0.items()}
    finally:
        gateway.stop()
        for p in reversed(procs):
            p.stop()
    steady = sorted(samples)[len(samples) // 2]
    verdict = "met" if steady <= TARGET_MB else "missed"
    report = f"""
## Gateway footprint (bench/gateway.py)

Measured {time.strftime("%Y-%m-%d")}: one gateway process for a 6-tank, 12-nozzle station at
real-time rates (TLS-350 polled every 10 s, two Modbus dispenser collectors every 1 s, POS
pushes), {elapsed:.0f} s after a 20 s warm-up, on this 2-core machine. The gateway ran from
{install}.

| measure | result |
|---|---|
| RSS, steady (median of 5 s samples) | {steady:.1f} MB (target <= {TARGET_MB} MB: **{verdict}**) |
| RSS, peak | {peak:.1f} MB |
| CPU | {100 * cpu:.2f} % of one core |
| records stored in the window | {", ".join(f"{k} {v}" for k, v in stored.items())} |
"""
    print(report)
    if args.record:
        record("bench/gateway.py", report)


if __name__ == "__main__":
    main()
