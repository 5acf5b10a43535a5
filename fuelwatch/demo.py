"""``fuelwatch demo``: the whole local stack on one machine, from embedded defaults.

Starts InfluxDB and Mosquitto (the project's own configs) under a state folder, migrates the
registry, provisions a few simulated stations exactly as a real one is provisioned, then runs
one ingest worker, the management API, the rule engine, the alert sender and one gateway
process per station. Prints where the data is and how to
query it, reports progress every few seconds, and stops everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from cloud.provisioning import provision_gateway
from cloud.registry.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.stack.broker import mosquitto_process, render_broker
from fuelwatch.stack.influxdb import influxd_process
from fuelwatch.stack.process import ManagedProcess, ServiceError

__all__ = ["DemoPorts", "run_demo"]

CLOUD_USER = "fuelwatch-cloud"
DEMO_ADMIN = "admin"
DATABASE = "fuelwatch"
DISTRICTS = ("binhai", "jdz")
MEASUREMENTS = (
    "tank_inventory",
    "dispenser_transaction",
    "nozzle_event",
    "totalizer",
    "pos_sale",
    "device_alarm",
    "gateway_status",
    "rejected",
)


@dataclass(frozen=True, slots=True)
class DemoPorts:
    mqtt: int = 18830
    influx_http: int = 18086
    influx_rpc: int = 18088
    api: int = 18080


def _say(msg: str) -> None:
    print(msg, flush=True)  # noqa: T201 - the demo talks to the person who started it


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # like the servers themselves: connections in TIME_WAIT from a last run don't count
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _secret(state: Path, name: str) -> str:
    """A generated secret kept in the state folder (mode 600), the same on every restart."""
    path = state / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(18), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _demo_admin(sessions: Any, password: str) -> None:
    """The management API's first administrator (user ``admin``), made once."""
    from cloud.accounts.models import User  # noqa: PLC0415
    from cloud.accounts.service import create_user  # noqa: PLC0415

    with sessions.begin() as session:
        if session.query(User).filter_by(username=DEMO_ADMIN).first() is None:
            create_user(
                session,
                username=DEMO_ADMIN,
                password=password,
                department="platform_admin",
                role="admin",
                all_districts=True,
                full_name="demo administrator",
            )


PRODUCTS = {
    "92": {"kind": "gasoline", "tls_code": "1", "price": 7.52, "price_max": 7.90},
    "95": {"kind": "gasoline", "tls_code": "2", "price": 8.03, "price_max": 8.43},
    "98": {"kind": "gasoline", "tls_code": "3", "price": 8.91, "price_max": 9.36},
    "0": {"kind": "diesel", "tls_code": "4", "price": 7.21, "price_max": 7.58},
}
TANK_PRODUCTS = ("92", "92", "95", "95", "98", "0")  # 6 tanks
NOZZLE_TANKS = (1, 3, 2, 4, 1, 3, 2, 4, 5, 6, 6, 1)  # 12 nozzles on 6 dispensers


@dataclass(frozen=True, slots=True)
class StationPorts:
    tls350: int
    modbus: int  # dispenser collector for nozzles 1-6
    modbus2: int  # and for nozzles 7-12 (one collector holds at most 8)
    pos: int


def station_ports(index: int, base: int = 18100) -> StationPorts:
    port = base + 10 * index
    return StationPorts(port + 1, port + 2, port + 3, port + 4)


def station_scenario(*, station: str, district: str, index: int) -> dict[str, Any]:
    """A 6-tank, 12-nozzle station starting now, running for 30 days in real time."""
    start = datetime.now(tz=UTC).replace(microsecond=0)
    return {
        "station": {"id": station.lower(), "name": f"演示加油站 {station}", "district": district},
        "seed": 100 + index,
        "start": start.isoformat(),
        "duration": "30d",
        "speed": 1,
        "products": PRODUCTS,
        "tanks": [
            {
                "tank": i + 1,
                "product": p,
                "diameter_mm": 2500,
                "length_mm": 5800,
                "head_depth_mm": 450,
                "initial_fill": 0.5 + 0.05 * i,
            }
            for i, p in enumerate(TANK_PRODUCTS)
        ],
        "dispensers": [
            {
                "dispenser": d + 1,
                "nozzles": [
                    {"nozzle": 2 * d + k + 1, "tank": NOZZLE_TANKS[2 * d + k]} for k in (0, 1)
                ],
            }
            for d in range(6)
        ],
        "customers": {
            "sales_per_day": 1500,
            "product_mix": {"92": 0.45, "95": 0.3, "98": 0.05, "0": 0.2},
        },
    }


def station_devices(ports: StationPorts) -> list[dict[str, Any]]:
    """What the station's gateway reads: the same protocols as real station equipment."""
    nozzle_products = {n + 1: TANK_PRODUCTS[t - 1] for n, t in enumerate(NOZZLE_TANKS)}
    return [
        {
            "type": "tls350",
            "id": "atg1",
            "poll_interval": 10.0,
            "transport": {"kind": "tcp", "host": "127.0.0.1", "port": ports.tls350},
            "products": {v["tls_code"]: k for k, v in PRODUCTS.items()},
        },
        *(
            {
                "type": "modbus",
                "id": f"disp{k + 1}",
                "poll_interval": 1.0,
                "profile": "taxcontrol_dispenser_collector.yaml",
                "nozzles": 6,
                "numbers": list(range(6 * k + 1, 6 * k + 7)),
                "products": {n: p for n, p in nozzle_products.items() if 6 * k < n <= 6 * k + 6},
                "transport": {"kind": "tcp", "host": "127.0.0.1", "port": port},
            }
            for k, port in enumerate((ports.modbus, ports.modbus2))
        ),
        {"type": "pos_push", "id": "pos", "host": "127.0.0.1", "port": ports.pos},
    ]


def _counts(url: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in MEASUREMENTS:
        field = "size" if m == "rejected" else "rid"
        try:
            resp = httpx.post(
                f"{url}/query",
                data={"db": DATABASE, "q": f'SELECT count("{field}") FROM "{m}"'},
                timeout=5,
            )
            series = resp.json()["results"][0].get("series")
        except (httpx.HTTPError, ValueError, KeyError):
            series = None
        out[m] = int(series[0]["values"][0][1]) if series else 0
    return out


def simulator_process(
    cli: list[str],
    state: Path,
    logs: Path,
    station: str,
    district: str,
    index: int,
    run_tag: str,
    ports: StationPorts | None = None,
) -> ManagedProcess:
    """``fuelwatch sim run`` for one station, serving the protocols its gateway reads."""
    folder = state / "sim" / station
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            station_scenario(station=station, district=district, index=index),
            allow_unicode=True,
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    ports = ports or station_ports(index)
    port_open = functools.partial(_port_open, ports.modbus)
    return ManagedProcess(
        f"sim-{station}",
        [
            *cli,
            "sim",
            "run",
            str(scenario),
            "--out",
            str(folder / run_tag),
            "--speed",
            "1",
            "--serve",
            f"tls350:port={ports.tls350}",
            "--serve",
            f"modbus:port={ports.modbus},first=1,count=6",
            "--serve",
            f"modbus:port={ports.modbus2},first=7,count=6",
            "--serve",
            f"pos:url=http://127.0.0.1:{ports.pos}",
        ],
        log_file=logs / f"sim-{station}.log",
        ready=port_open,
        env={"PYTHONUNBUFFERED": "1"},
    )


def _port_open(port: int) -> bool:
    return not _port_free(port)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def run_demo(
    *,
    state_dir: Path,
    stations: int = 3,
    duration: float | None = None,
    ports: DemoPorts = DemoPorts(),
) -> None:
    state = state_dir.resolve()
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    station_side = [p for i in range(stations) for p in dataclasses.astuple(station_ports(i))]
    for port in (ports.mqtt, ports.influx_http, ports.influx_rpc, ports.api, *station_side):
        if not _port_free(port):
            raise ServiceError(
                f"port {port} is in use: is another demo running? "
                f"(stop it, or remove {state} after stopping it)"
            )
    if not 1 <= stations <= 50:
        raise ServiceError("--stations must be between 1 and 50")

    _say(f"fuelwatch demo: state in {state}")
    registry_url = f"sqlite:///{state / 'registry.db'}"
    engine = make_engine(registry_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    cloud_password = _secret(state, "cloud.password")
    admin_password = _secret(state, "admin.password")
    _demo_admin(sessions, admin_password)
    broker_files = render_broker(
        state / "broker", port=ports.mqtt, cloud_user=CLOUD_USER, cloud_password=cloud_password
    )
    bundles = []
    sims: list[ManagedProcess] = []
    run_tag = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S")
    cli = [sys.executable, "-m", "fuelwatch.cli"]
    for i in range(stations):
        district = DISTRICTS[i % len(DISTRICTS)]
        station = f"{district[:2].upper()}{i + 1:04d}"
        bundles.append(
            provision_gateway(
                sessions,
                district=district,
                station=station,
                gateway=f"gw-{station}",
                out_dir=state / "gateways" / f"gw-{station}",
                password_file=broker_files.password_file,
                mqtt_port=ports.mqtt,
                devices=station_devices(station_ports(i)),
            )
        )
        sims.append(simulator_process(cli, state, logs, station, district, i, run_tag))
    engine.dispose()

    env = {
        "FUELWATCH_ENVIRONMENT": "local",
        "FUELWATCH_REGISTRY_URL": registry_url,
        "FUELWATCH_INFLUX_URL": f"http://127.0.0.1:{ports.influx_http}",
        "FUELWATCH_INFLUX_DB": DATABASE,
        "FUELWATCH_MQTT_HOST": "127.0.0.1",
        "FUELWATCH_MQTT_PORT": str(ports.mqtt),
        "FUELWATCH_MQTT_USERNAME": CLOUD_USER,
        "FUELWATCH_MQTT_PASSWORD": cloud_password,
        "PYTHONUNBUFFERED": "1",
    }
    influx = influxd_process(
        state / "influxdb", http_port=ports.influx_http, rpc_port=ports.influx_rpc
    )
    broker = mosquitto_process(broker_files)
    ingest = ManagedProcess(
        "ingest",
        [*cli, "cloud", "ingest"],
        log_file=logs / "ingest.log",
        ready=lambda: True,
        env=env,
    )
    api_url = f"http://127.0.0.1:{ports.api}"
    api = ManagedProcess(
        "api",
        [*cli, "cloud", "api", "--port", str(ports.api)],
        log_file=logs / "api.log",
        ready=functools.partial(_http_ok, f"{api_url}/health"),
        env={
            **env,
            "FUELWATCH_API_MQTT_PASSWORD_FILE": str(broker_files.password_file),
            "FUELWATCH_API_ATTACHMENTS_DIR": str(state / "attachments"),
            "FUELWATCH_API_BUNDLE_MQTT_PORT": str(ports.mqtt),
        },
    )
    rules = ManagedProcess(
        "rules",
        [*cli, "cloud", "rules"],
        log_file=logs / "rules.log",
        ready=lambda: True,
        env=env,
    )
    alerts = ManagedProcess(
        "alerts",
        [*cli, "cloud", "alerts"],
        log_file=logs / "alerts.log",
        ready=lambda: True,
        env=env,
    )
    gateways = [
        ManagedProcess(
            b.gateway,
            [*cli, "gateway", "run", "-c", str(b.config_file)],
            log_file=logs / f"{b.gateway}.log",
            ready=lambda: True,
            env={"PYTHONUNBUFFERED": "1"},
        )
        for b in bundles
    ]
    started: list[ManagedProcess] = []
    stop_requested = False

    def request_stop(_sig: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        for proc, what in (
            (influx, f"InfluxDB on :{ports.influx_http}"),
            (broker, f"Mosquitto on :{ports.mqtt}"),
            (ingest, "ingest worker"),
            (api, f"management API on {api_url}"),
            (rules, "rule engine (warnings)"),
            (alerts, "alert sender (MQTT alerts/v1/..., InfluxDB warning_event, webhooks)"),
        ):
            proc.start()
            started.append(proc)
            _say(f"  started {what} (pid {proc.pid})")
        for proc in [*sims, *gateways]:
            proc.start()
            started.append(proc)
        _say(
            f"  started {len(sims)} simulated station(s) speaking TLS-350, Modbus and POS push, "
            f"and their gateway(s): " + ", ".join(f"{b.district}/{b.station}" for b in bundles)
        )
        url = f"http://127.0.0.1:{ports.influx_http}"
        _say(f"""
Data is flowing. Where things are:
  InfluxDB   {url}  database '{DATABASE}' (InfluxQL over HTTP /query)
  MQTT       127.0.0.1:{ports.mqtt}  topics fuel/v1/<district>/<station>/<device>/<kind>
             alerts on alerts/v1/<district>/<station>/<category> (docs/alerts.md)
  registry   {state / "registry.db"}
  API        {api_url}/docs  user '{DEMO_ADMIN}', password in {state / "admin.password"}
  gateways   {state / "gateways"}/<gateway>/gateway.yaml (spool and status.json beside it)
  logs       {logs}

Query it, for example:
  .venv/bin/fuelwatch query \
      'SELECT last("volume") FROM "tank_inventory" GROUP BY "station","tank"'
  .venv/bin/fuelwatch query \
      'SELECT sum("volume") FROM "dispenser_transaction" WHERE time > now() - 1h
       GROUP BY "station"'
  curl -G {url}/query --data-urlencode db={DATABASE} \\
       --data-urlencode 'q=SELECT * FROM "rejected" LIMIT 5'

Stop with Ctrl-C.
""")
        deadline = time.monotonic() + duration if duration is not None else None
        while not stop_requested and (deadline is None or time.monotonic() < deadline):
            time.sleep(min(5.0, max(0.1, (deadline - time.monotonic()) if deadline else 5.0)))
            for proc in started:
                if not proc.running():
                    raise ServiceError(
                        f"{proc.name} stopped unexpectedly; see {proc.log_file}:\n{proc.tail()}"
                    )
            counts = _counts(url)
            _say("  stored: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _say("stopping ...")
        for proc in reversed(started):
            proc.stop()
        _say(f"stopped. State kept in {state}; run `fuelwatch demo` again to continue.")
