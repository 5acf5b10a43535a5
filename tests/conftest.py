"""Session-wide real services: one Mosquitto and one InfluxDB for the whole run.

Tests that break a service (stop, kill) start their own through the factories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.env import StackEnv
from tests.support.postgres import postgres_available, temporary_database
from tests.support.services import Broker, Influx


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
    ) -> StackEnv:
        e = StackEnv(
            tmp_path / f"env{len(made)}",
            broker_ or broker,
            influx_ or influx,
            registry_url=registry_url,
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
