"""API test fixtures: every test runs on SQLite and on PostgreSQL (marked ``postgres``).

SQLite: a migrated template database is copied per test. PostgreSQL: one fresh database per
session (``fuelwatch_test_<random>`` on 127.0.0.1:5432, dropped afterwards), emptied with
TRUNCATE between tests. The audit log refuses TRUNCATE by a trigger (migration 0008); the
tests' superuser connection sets ``session_replication_role = replica``, which a superuser
alone may do and which skips triggers - exactly why the application never runs as superuser.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.api.app import create_app
from fuelwatch.cloud.common.settings import ApiSettings, CloudSettings
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.cloud.store.models import metadata
from tests.api.world import World, bearer, seed

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "registry.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"fuelwatch_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {exc}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "registry.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@dataclass
class ApiEnv:
    app: FastAPI
    client: TestClient
    engine: Engine
    sessions: sessionmaker[Session]
    settings: CloudSettings
    world: World

    def as_user(self, name: str) -> dict[str, str]:
        if name in self.world.api_keys:
            return {"X-API-Key": self.world.api_keys[name]}
        return bearer(self.sessions, self.settings.api, self.world.user_ids[name])


def make_settings(db_url: str, tmp_path: Path, **api: object) -> CloudSettings:
    return CloudSettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        registry_url=db_url,
        influx_url="http://127.0.0.1:9",  # nothing there: supervision tests bring their own
        webhook_allow_networks=["127.0.0.0/8"],  # test receivers; tests/api/test_webhook_ssrf.py
        # checks the guard with an app of its own that allows nothing
        api=ApiSettings(attachments_dir=tmp_path / "attachments", **api),  # type: ignore[arg-type]
    )


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    settings = make_settings(db_url, tmp_path)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    world = seed(sessions)
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        yield ApiEnv(app, client, engine, sessions, settings, world)
    engine.dispose()
