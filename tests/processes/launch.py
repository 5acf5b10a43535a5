"""The two ways the project starts its long-running commands, for the tests that run them.

- ``DEMO``, as ``fuelwatch demo`` does (fuelwatch/demo.py): this interpreter with
  ``-m fuelwatch.cli`` (``demo.cli_argv``), the demo's environment (``demo.cloud_env``,
  ``demo.api_env``, ``demo.GATEWAY_ENV``) and a SQLite registry file.
- ``COMPOSE``, as docker-compose.yml does: the ``fuelwatch`` console script (the image's
  ENTRYPOINT) with the service's ``command`` and ``environment`` read from the compose file, and
  a PostgreSQL registry. Every deployment address and secret in it is replaced by the test
  stack's (``_deployment``); a ``${...}`` variable this module does not know fails the test, so a
  new setting in the compose file cannot go untested.

Both run in a scratch working directory, not the repository: only the installed package is
importable there (a stray ``import gateway`` fails instead of loading a second copy) and no
``.env`` file is read. What the shared test broker needs on top (a subscription group and
district per test, short broker sessions) is added by ``Site.isolation`` and named as such.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import yaml

from fuelwatch import demo
from fuelwatch.stack.process import ManagedProcess, free_port
from tests.support.env import StackEnv
from tests.support.services import CLOUD_PASSWORD, CLOUD_USER

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
START_TIMEOUT = 60.0  # a service's start-up on a busy 2-core CI machine
STOP_TIMEOUT = 20.0
#: our command -> its service in docker-compose.yml (``gateway-status`` is the health check
#: of the ``sim`` service, ``migrate`` the one-shot service every other one waits for)
COMPOSE_SERVICES = {
    "ingest": "ingest-1",
    "rules": "rules",
    "alerts": "alerts",
    "api": "api",
    "gateway": "sim",
    "gateway-status": "sim",
    "migrate": "migrate",
}


@dataclass
class Site:
    """Where a test's processes run: its slice of the stack and a scratch folder."""

    stack: StackEnv
    workdir: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def isolation(self, command: str) -> dict[str, str]:
        """Not the shipped configuration: what sharing one broker between tests needs."""
        if command != "ingest":
            return {}
        s = self.stack.settings
        return {
            "FUELWATCH_INGEST_CLIENT_ID": f"ingest-{self.tag}",  # compose: its --client-id, too
            "FUELWATCH_INGEST_GROUP": s.ingest_group,
            "FUELWATCH_INGEST_DISTRICT": s.ingest_district,
            "FUELWATCH_INGEST_SESSION_EXPIRY": "600",
        }


@dataclass(frozen=True)
class Command:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path

    def with_args(self, *args: str) -> Command:
        """The same command with options added (``rules --once --at ...``)."""
        return dataclasses.replace(self, argv=[*self.argv, *args])


class Launch:
    """One way of starting the shipped commands (``DEMO``, ``COMPOSE``)."""

    name = ""
    registry = ""  # "sqlite" or "postgresql"

    def command(self, command: str, site: Site, **values: Any) -> Command:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class _Demo(Launch):
    name = "demo"
    registry = "sqlite"

    def command(self, command: str, site: Site, **values: Any) -> Command:
        s = site.stack.settings
        cloud = demo.cloud_env(
            registry_url=s.registry_url,
            influx_url=s.influx_url,
            influx_db=s.influx_db,
            mqtt_port=s.mqtt.port,
            cloud_password=s.mqtt.password,
        )
        args: list[str]
        env = cloud
        if command in ("ingest", "rules", "alerts"):
            args = ["cloud", command]
        elif command == "api":
            args = ["cloud", "api", "--port", str(values["port"])]
            env = demo.api_env(
                cloud,
                password_file=site.stack.broker.files.password_file,
                attachments_dir=site.workdir / "attachments",
                mqtt_port=s.mqtt.port,
            )
        elif command == "gateway":
            args = ["gateway", "run", "-c", str(values["config"])]
            env = dict(demo.GATEWAY_ENV)
        elif command == "gateway-status":  # the README's check on a station box
            args = ["gateway", "status", "-c", str(values["config"])]
            env = dict(demo.GATEWAY_ENV)
        else:  # the demo migrates in its own process, as the tests' StackEnv does
            raise ValueError(f"the demo does not start {command!r}")
        return Command(
            f"{self.name}-{command}",
            [*demo.cli_argv(), *args],
            {**env, **site.isolation(command)},
            site.workdir,
        )


def _replace_option(argv: list[str], option: str, value: str) -> list[str]:
    assert option in argv, f"docker-compose.yml: expected {option} in {argv}"
    out = list(argv)
    out[out.index(option) + 1] = value
    return out


class _Compose(Launch):
    name = "compose"
    registry = "postgresql"

    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = yaml.safe_load(
            COMPOSE_FILE.read_text(encoding="utf-8")
        )["services"]

    @staticmethod
    def entrypoint() -> str:
        script = Path(sys.executable).with_name("fuelwatch")
        assert script.exists(), f"the fuelwatch console script is not installed at {script}"
        return str(script)

    def _deployment(self, site: Site, values: dict[str, Any]) -> dict[str, str]:
        """The test's value of each deployment-specific variable of docker-compose.yml."""
        s = site.stack.settings
        return {
            "FUELWATCH_STATE_DIR": str(site.workdir / "state"),
            "FUELWATCH_REGISTRY_URL": s.registry_url,
            "FUELWATCH_INFLUX_URL": s.influx_url,
            "FUELWATCH_INFLUX_DB": s.influx_db,
            # the test influxd runs without authentication and ignores these
            "FUELWATCH_INFLUX_USERNAME": "fuelwatch-admin",
            "FUELWATCH_INFLUX_PASSWORD": secrets.token_urlsafe(24),
            "FUELWATCH_MQTT_HOST": "127.0.0.1",
            "FUELWATCH_MQTT_PORT": str(s.mqtt.port),
            "FUELWATCH_MQTT_PASSWORD": CLOUD_PASSWORD,
            "FUELWATCH_API_JWT_SECRET": secrets.token_urlsafe(36),
            "FUELWATCH_INGEST_OPS_PORT": str(values.get("ops_port", 0)),
            "FUELWATCH_ALERTS_CLIENT_ID": f"alerts-{site.tag}",
            "FUELWATCH_API_ATTACHMENTS_DIR": str(site.workdir / "attachments"),
            "FUELWATCH_API_BUNDLE_MQTT_HOST": "127.0.0.1",
            "FUELWATCH_API_CA_CERT_FILE": str(site.workdir / "ca" / "ca.crt"),
            "FUELWATCH_API_CA_KEY_FILE": str(site.workdir / "ca" / "ca.key"),
        }

    def command(self, command: str, site: Site, **values: Any) -> Command:
        service = self.services[COMPOSE_SERVICES[command]]
        if command == "gateway-status":
            test = [str(a) for a in service["healthcheck"]["test"]]
            assert test[:2] == ["CMD", "fuelwatch"], test
            argv = test[2:]
        else:
            argv = [str(a) for a in service["command"]]
        if command == "ingest":
            argv = _replace_option(argv, "--client-id", f"ingest-{site.tag}")
        elif command == "api":
            argv = _replace_option(argv, "--host", "127.0.0.1")
            argv = _replace_option(argv, "--port", str(values["port"]))
        elif command in ("gateway", "gateway-status"):
            argv = _replace_option(argv, "-c", str(values["config"]))
        deployment = self._deployment(site, values)
        env = {"PYTHONUNBUFFERED": "1"}  # the Dockerfile's ENV
        for key, value in (service.get("environment") or {}).items():
            text = str(value)
            if key in deployment:
                env[key] = deployment[key]
            else:
                assert "${" not in text, f"docker-compose.yml sets {key} from {text}: add it here"
                env[key] = text
        if command.startswith("gateway"):  # a station box: the cloud's settings are not its own
            assert not any(k.startswith("FUELWATCH_") for k in env), env
        assert env.get("FUELWATCH_MQTT_USERNAME", CLOUD_USER) == CLOUD_USER
        return Command(
            f"{self.name}-{command}",
            [self.entrypoint(), *argv],
            {**env, **site.isolation(command)},
            site.workdir,
        )


DEMO: Launch = _Demo()
COMPOSE: Launch = _Compose()


class Shipped:
    """A shipped command running as a subprocess, started the way the demo starts its
    services (``fuelwatch.stack.process.ManagedProcess``: own session, output to a log file).

    Leaving the block stops it with SIGTERM; if the block itself went well, the process must
    then exit 0 and its log must hold no traceback. ``killed_after``: the process ends by
    re-raising the SIGTERM once this line is logged (uvicorn does, after a graceful
    shutdown, so that its parent sees how it ended); without that line, death by SIGTERM means
    the signal was not handled and is a failure.
    """

    def __init__(
        self,
        command: Command,
        site: Site,
        ready: Callable[[], bool] | None = None,
        *,
        killed_after: str | None = None,
    ) -> None:
        self.command = command
        self.killed_after = killed_after
        self.log_file = site.logs / f"{command.name}-{uuid.uuid4().hex[:6]}.log"
        self.process = ManagedProcess(
            command.name,
            command.argv,
            log_file=self.log_file,
            ready=ready or (lambda: True),
            cwd=command.cwd,
            env=command.env,
        )
        self.returncode: int | None = None

    def log(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def logged(self, text: str) -> bool:
        return text in self.log()

    def running(self) -> bool:
        return self.process.running()

    def stop(self) -> int | None:
        """SIGTERM and wait; the exit code, or None if it had to be killed."""
        proc = self.process.proc
        if proc is None:
            return self.returncode
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:  # its whole session: uvicorn's workers too
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
                self.process.proc = None
                return None
        self.returncode = proc.returncode
        self.process.proc = None
        return self.returncode

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.process.start, START_TIMEOUT)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        code = await asyncio.to_thread(self.stop)
        if exc_type is None:
            graceful = self.killed_after is not None and self.logged(self.killed_after)
            assert code == 0 or (graceful and code == -signal.SIGTERM), (
                f"{self.command.name} exited {code} on SIGTERM:\n{self.log()[-3000:]}"
            )
            assert "Traceback" not in self.log(), self.log()[-3000:]


def run_to_end(command: Command, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """A command that ends by itself (``rules --once``): run it, return its output."""
    return subprocess.run(
        command.argv,
        cwd=command.cwd,
        env={**os.environ, **command.env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ingest_process(launch: Launch, site: Site) -> Shipped:
    """``fuelwatch cloud ingest``, ready once subscribed: the compose service has its ops
    endpoint (``/health``), the demo's worker says so in its log."""
    ops_port = free_port()
    command = launch.command("ingest", site, ops_port=ops_port)
    if "FUELWATCH_INGEST_OPS_PORT" in command.env:
        return Shipped(command, site, ready=lambda: http_ok(f"http://127.0.0.1:{ops_port}/health"))
    shipped: Shipped
    shipped = Shipped(command, site, ready=lambda: shipped.logged(" subscribed to "))
    return shipped


def http_ok(url: str) -> bool:
    """A readiness check: ``url`` answers 200."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
