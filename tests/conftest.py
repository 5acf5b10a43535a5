"""Session-wide real services: one Mosquitto and one InfluxDB for the whole run.

Tests that break a service (stop, kill) start their own through the factories. The session
imports the sides only as ``fuelwatch.*`` (``tests.support.namespace``): ``import gateway``
fails here, as it would in a deployment. No test may resolve a name through DNS (the machine's
resolver is not on loopback): ``getaddrinfo`` of anything but an address literal or
``localhost`` fails in every test, as it would offline.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import namespace
from tests.support.env import StackEnv
from tests.support.postgres import postgres_available, temporary_database
from tests.support.services import Broker, Influx

namespace.guard()  # this file is loaded before any test module is collected


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Anything that got a top-level copy in past the guard fails the run."""
    copies = namespace.top_level_copies()
    if copies:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep(
                "=", f"modules imported from the repository root, not as fuelwatch.*: {copies}"
            )


_REAL_GETADDRINFO = socket.getaddrinfo


def _local_getaddrinfo(
    host: Any,
    port: Any,
    family: int = 0,
    type: int = 0,  # noqa: A002 - the keyword socket.getaddrinfo takes
    proto: int = 0,
    flags: int = 0,
) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name not in ("localhost", "localhost.localdomain"):
        # numeric forms only (``127.0.0.1``, ``::1``, ``0x7f000001``): never a DNS query
        flags |= socket.AI_NUMERICHOST
        try:
            return _REAL_GETADDRINFO(host, port, family, type, proto, flags)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve no names ({name})") from None
    return _REAL_GETADDRINFO(host, port, family, type, proto, flags)


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _local_getaddrinfo)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker")).start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influx]:
    i = Influx(tmp_path_factory.mktemp("influx")).start()
    yield i
    i.stop()


@pytest.fixture
def make_env(tmp_path: Path, broker: Broker, influx: Influx) -> Iterator[Callable[..., StackEnv]]:
    """StackEnv on the shared services unless told otherwise; engines disposed afterwards."""
    made: list[StackEnv] = []

    def make(
        *,
        broker_: Broker | None = None,
        influx_: Influx | None = None,
        registry_url: str | None = None,
        migrate: bool = True,
    ) -> StackEnv:
        e = StackEnv(
            tmp_path / f"env{len(made)}",
            broker_ or broker,
            influx_ or influx,
            registry_url=registry_url,
            migrate=migrate,
        )
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()


@pytest.fixture
def env(make_env: Callable[..., StackEnv]) -> StackEnv:
    return make_env()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    made: list[Broker] = []

    def make(*, tls: bool = False) -> Broker:
        b = Broker(tmp_path / f"broker{len(made)}", tls=tls).start()
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def own_influx(tmp_path: Path) -> Iterator[Callable[[], Influx]]:
    made: list[Influx] = []

    def make() -> Influx:
        i = Influx(tmp_path / f"influx{len(made)}").start()
        made.append(i)
        return i

    yield make
    for i in made:
        i.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the session (dropped afterwards)."""
    why = postgres_available()
    if why is not None:
        pytest.skip(why)
    with temporary_database() as url:
        yield url
