"""Shipped commands as subprocesses: where they run (``site``) and how they start (``launch``).

A test runs with the demo's way of starting a command unless it is parametrised with ``BOTH``
(the demo's way on SQLite, and docker-compose's way on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.processes.launch import COMPOSE, DEMO, Launch, Site, run_to_end
from tests.support.env import StackEnv
from tests.support.postgres import postgres_available, temporary_database

BOTH = pytest.mark.parametrize(
    "launch",
    [
        pytest.param(DEMO, id="demo-sqlite"),
        pytest.param(COMPOSE, id="compose-postgres", marks=pytest.mark.postgres),
    ],
    indirect=True,
)


@pytest.fixture
def launch(request: pytest.FixtureRequest) -> Launch:
    return getattr(request, "param", DEMO)


@pytest.fixture
def site(launch: Launch, make_env: Callable[..., StackEnv], tmp_path: Path) -> Iterator[Site]:
    """The test's slice of the shared broker and InfluxDB, with the launch's registry."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    if launch.registry == "postgresql":
        why = postgres_available()
        if why is not None:
            pytest.skip(why)
        with temporary_database() as url:
            site = Site(make_env(registry_url=url, migrate=False), workdir)
            # the compose stack's first step, its `migrate` service: an empty database upgraded
            done = run_to_end(launch.command("migrate", site))
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
            yield site
            site.stack.close()  # before the database is dropped
    else:
        yield Site(make_env(), workdir)
