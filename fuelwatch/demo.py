"""``fuelwatch demo``: the whole local stack on one machine, from embedded defaults.

Starts InfluxDB and Mosquitto (the project's own configs) under a state folder, migrates the
registry, provisions a few simulated stations exactly as a real one is provisioned, then runs
one ingest worker, the management API, the rule engine, the alert sender and one gateway
process per station. Prints where the data is and how to
query it, reports progress every few seconds, and stops everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

from fuelwatch.cloud.accounts.passwords import PolicyError, check_policy
from fuelwatch.cloud.accounts.service import create_user
from fuelwatch.cloud.provisioning.service import provision_gateway
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.cloud.store.models.accounts import User
from fuelwatch.core.clitools import user_errors
from fuelwatch.stack.broker import mosquitto_process, render_broker
from fuelwatch.stack.influxdb import influxd_process
from fuelwatch.stack.process import ManagedProcess, ServiceError
from fuelwatch.stack.stations import (
    FRAUD,
    RULES_AFTER_S,
    port_free,
    simulator_process,
    station_devices,
    station_ports,
)
from fuelwatch.stack.watch import WarningWatch

__all__ = ["GATEWAY_ENV", "DemoPorts", "api_env", "cli_argv", "cloud_env", "run_demo"]

CLOUD_USER = "fuelwatch-cloud"
DEMO_ADMIN = "admin"
#: The three administrators (三员分立): user name -> (role, what that account does).
DEMO_ADMINS = {
    DEMO_ADMIN: ("system_admin", "runs the platform: stations, gateways, rules, alerts"),
    "secadmin": ("security_admin", "accounts and API keys, nothing else"),
    "auditor": ("audit_admin", "reads and verifies the audit log, nothing else"),
}
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
    stations: int = 18100  # station i's simulated devices: stations + 10 i + 1 ... + 4


def _say(msg: str) -> None:
    try:
        print(msg, flush=True)  # noqa: T201 - the demo talks to the person who started it
    except (BrokenPipeError, OSError):
        # stdout is a closed pipe (`fw demo | tee log`, then Ctrl-C killed tee): go on quietly,
        # above all with stopping every child
        with contextlib.suppress(OSError):
            sys.stdout = Path(os.devnull).open("w", encoding="utf-8")  # noqa: SIM115


def _holder(port: int) -> str:
    """Which process listens on ``port`` (from ``ss``), for the error message."""
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    found = re.search(r'\(\("([^"]+)",pid=(\d+)', out)
    return f" by {found.group(1)} (pid {found.group(2)})" if found else ""


#: what the demo adds to its own environment for a gateway process
GATEWAY_ENV = {"PYTHONUNBUFFERED": "1"}


def cli_argv() -> list[str]:
    """How the demo starts every fuelwatch process: this interpreter, ``-m fuelwatch.cli``.

    Its service tests start the shipped commands with exactly this (tests/processes/).
    """
    return [sys.executable, "-m", "fuelwatch.cli"]


def cloud_env(
    *, registry_url: str, influx_url: str, influx_db: str, mqtt_port: int, cloud_password: str
) -> dict[str, str]:
    """The ``FUELWATCH_*`` environment the demo gives its cloud services."""
    return {
        "FUELWATCH_ENVIRONMENT": "local",
        "FUELWATCH_REGISTRY_URL": registry_url,
        "FUELWATCH_INFLUX_URL": influx_url,
        "FUELWATCH_INFLUX_DB": influx_db,
        "FUELWATCH_MQTT_HOST": "127.0.0.1",
        "FUELWATCH_MQTT_PORT": str(mqtt_port),
        "FUELWATCH_MQTT_USERNAME": CLOUD_USER,
        "FUELWATCH_MQTT_PASSWORD": cloud_password,
        "PYTHONUNBUFFERED": "1",
    }


def api_env(
    cloud: dict[str, str], *, password_file: Path, attachments_dir: Path, mqtt_port: int
) -> dict[str, str]:
    """The management API's environment: the cloud's, and where provisioning writes."""
    return {
        **cloud,
        "FUELWATCH_API_MQTT_PASSWORD_FILE": str(password_file),
        "FUELWATCH_API_ATTACHMENTS_DIR": str(attachments_dir),
        "FUELWATCH_API_BUNDLE_MQTT_PORT": str(mqtt_port),
    }


def _secret(state: Path, name: str) -> str:
    """A generated secret kept in the state folder (mode 600), the same on every restart."""
    path = state / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(18), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _admin_password(state: Path, name: str) -> str:
    """Like ``_secret``, but always fitting the password policy (3 kinds of character)."""
    path = state / name
    if not path.exists():
        password = secrets.token_urlsafe(18)
        while _weak(password):
            password = secrets.token_urlsafe(18)
        path.write_text(password, encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _weak(password: str) -> bool:
    try:
        check_policy(password, username="")
    except PolicyError:
        return True
    return False


def _demo_admins(sessions: Any, state: Path) -> None:
    """The system, security and audit administrators, each made once with its own password
    file. Only the server console makes administrators (the API cannot)."""

    with sessions.begin() as session:
        for username, (role, _) in DEMO_ADMINS.items():
            password = _admin_password(state, f"{username}.password")
            if session.query(User).filter_by(username=username).first() is None:
                create_user(
                    session,
                    username=username,
                    password=password,
                    department="platform_admin",
                    role=role,
                    all_districts=True,
                    full_name=f"demo {role.replace('_', ' ')}",
                )


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
    station_side = [
        p for i in range(stations) for p in dataclasses.astuple(station_ports(i, ports.stations))
    ]
    for port in (ports.mqtt, ports.influx_http, ports.influx_rpc, ports.api, *station_side):
        if not port_free(port):
            raise ServiceError(
                f"port {port} is in use{_holder(port)}: is another demo running? "
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
    _demo_admins(sessions, state)
    broker_files = render_broker(
        state / "broker", port=ports.mqtt, cloud_user=CLOUD_USER, cloud_password=cloud_password
    )
    bundles = []
    sims: list[ManagedProcess] = []
    run_tag = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S")
    cli = cli_argv()
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
                devices=station_devices(station_ports(i, ports.stations)),
            )
        )
        sims.append(
            simulator_process(
                cli,
                state,
                logs,
                station,
                district,
                i,
                run_tag,
                station_ports(i, ports.stations),
                fraud=i == 0,
            )
        )
    engine.dispose()

    env = cloud_env(
        registry_url=registry_url,
        influx_url=f"http://127.0.0.1:{ports.influx_http}",
        influx_db=DATABASE,
        mqtt_port=ports.mqtt,
        cloud_password=cloud_password,
    )
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
        env=api_env(
            env,
            password_file=broker_files.password_file,
            attachments_dir=state / "attachments",
            mqtt_port=ports.mqtt,
        ),
    )
    rules = ManagedProcess(
        "rules",
        [*cli, "cloud", "rules"],
        log_file=logs / "rules.log",
        ready=lambda: True,
        # judge a minute behind the feed instead of 15: the demo's fraud shows in minutes
        env={**env, "FUELWATCH_RULES_HOLD_SECONDS": "60"},
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
            env=GATEWAY_ENV,
        )
        for b in bundles
    ]
    started: list[ManagedProcess] = []
    stop_requested = False
    started_watch = False

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
            "and their gateway(s):"
        )
        for b, sim, gw in zip(bundles, sims, gateways, strict=True):
            _say(f"    {b.district}/{b.station}: simulator (pid {sim.pid}), gateway (pid {gw.pid})")
        url = f"http://127.0.0.1:{ports.influx_http}"
        admins = "\n".join(
            f"             {user:<9} {role:<15} {duty}"
            for user, (role, duty) in DEMO_ADMINS.items()
        )
        _say(f"""
Data is flowing. Where things are:
  InfluxDB   {url}  database '{DATABASE}' (InfluxQL over HTTP /query)
  MQTT       127.0.0.1:{ports.mqtt}  topics fuel/v1/<district>/<station>/<device>/<kind>
             alerts on alerts/v1/<district>/<station>/<category> (docs/alerts.md)
  registry   {state / "registry.db"}
  console    {api_url}/console/  user '{DEMO_ADMIN}' (the system administrator)
  API        {api_url}/docs  three administrators (三员), each password in {state}/<user>.password:
{admins}
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
        _say(
            f"  station {bundles[0].station} runs a fraud: nozzle {FRAUD['nozzle']}'s totalizer "
            f"jumps {FRAUD['litres']} L {FRAUD['at']} after start; watch for its warning below"
        )
        watch = WarningWatch(registry_url, api_url, ports.mqtt, cloud_password)
        watch.start()
        started_watch = True
        rules_at: float | None = time.monotonic() + RULES_AFTER_S
        deadline = time.monotonic() + duration if duration is not None else None
        while not stop_requested and (deadline is None or time.monotonic() < deadline):
            if rules_at is not None and time.monotonic() >= rules_at:
                rules.start()
                started.append(rules)
                rules_at = None
                _say(f"  started rule engine (warnings) (pid {rules.pid})")
            time.sleep(min(5.0, max(0.1, (deadline - time.monotonic()) if deadline else 5.0)))
            for proc in started:
                if not proc.running():
                    raise ServiceError(
                        f"{proc.name} stopped unexpectedly; see {proc.log_file}:\n{proc.tail()}"
                    )
            counts = _counts(url)
            _say("  stored: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
            for line in watch.news():
                _say(line)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if started_watch:
            watch.stop()
        _say("stopping ...")
        for proc in reversed(started):
            proc.stop()
        _say(f"stopped. State kept in {state}; run `fuelwatch demo` again to continue.")


@click.command("demo")
@click.option(
    "--state-dir", type=click.Path(path_type=Path), default=Path(".fuelwatch"), show_default=True
)
@click.option("--stations", default=3, show_default=True, help="simulated stations")
@click.option(
    "--duration",
    type=float,
    default=None,
    help="stop after this many seconds (default: until Ctrl-C)",
)
@click.option(
    "--ports",
    "port_list",
    default=None,
    help="MQTT,InfluxDB,InfluxDB-RPC,API,stations-base ports "
    "(default 18830,18086,18088,18080,18100)",
)
@user_errors
def demo(state_dir: Path, stations: int, duration: float | None, port_list: str | None) -> None:
    """Run the whole local stack: broker, InfluxDB, cloud services and simulated stations."""
    ports = DemoPorts()
    if port_list:
        try:
            ports = DemoPorts(*(int(p) for p in port_list.split(",")))
        except (TypeError, ValueError) as exc:
            raise ServiceError(f"--ports wants five port numbers: {exc}") from exc
    run_demo(state_dir=state_dir, stations=stations, duration=duration, ports=ports)
