"""The migrations build exactly the tables the models describe, on both backends, and go
down and up again; 0001's tables keep working for ingest."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from fuelwatch.cloud.store.db import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    make_sessionmaker,
    upgrade,
)
from fuelwatch.cloud.store.models import metadata
from fuelwatch.cloud.store.registry import ensure_station, register_gateway


def test_models_match_migrations_and_downgrade_works(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision(engine) == "0008"
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        command.downgrade(alembic_config(engine), "0001")
        with engine.connect() as conn:  # back to the backbone's tables alone
            assert current_revision(engine) == "0001"
            conn.execute(text("SELECT id, station_id, created_at FROM gateways")).all()
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            ensure_station(session, district="dx", station="SX", name="x")
            register_gateway(session, gateway="gw-x", station="SX")
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()
