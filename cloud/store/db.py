"""Engine and schema management for the registry database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Select, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.core.errors import UserFacingError

__all__ = ["make_engine", "make_sessionmaker", "paginate", "upgrade"]

T = TypeVar("T")

LOGGER = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


class SchemaError(UserFacingError, RuntimeError):
    """The registry schema is not at the version this code expects."""


def require_schema(engine: Engine) -> None:
    """Services check the schema instead of migrating it (migrations are a deploy step)."""
    have, want = current_revision(engine), head_revision(engine)
    if have != want:
        raise SchemaError(
            f"registry schema is at {have or 'nothing'}, this version needs {want}: "
            "run `fuelwatch registry upgrade`"
        )


def paginate(
    session: Session, stmt: Select[T], *order_by: Any, limit: int, offset: int
) -> tuple[list[T], int]:
    """One page of ``stmt`` in ``order_by`` order, and how many rows there are in all."""
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return list(session.scalars(stmt.order_by(*order_by).limit(limit).offset(offset))), total
