"""Alert tests run their database logic on SQLite and PostgreSQL (a fresh database each)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fuelwatch.cloud.store.db import make_engine, upgrade
from tests.support.postgres import postgres_available, temporary_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/registry.db"
        return
    why = postgres_available()
    if why is not None:
        pytest.skip(why)
    with temporary_database() as url:
        yield url


@pytest.fixture
def engine(registry_url: str) -> Iterator[Engine]:
    e = make_engine(registry_url)
    upgrade(e)
    yield e
    e.dispose()
