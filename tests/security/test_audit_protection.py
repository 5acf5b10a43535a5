"""Issue 13 #8 on the real PostgreSQL: the services' role can neither truncate, update nor
delete the audit log, nor own it; even the owner cannot TRUNCATE it (trigger of migration
0008). The deployment this mirrors: the services' role ran the migrations (so it owned every
table), then a database administrator ran ``fuelwatch audit protect``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from fuelwatch.cloud.accounts import audit
from fuelwatch.cloud.accounts.audit_chain import protect, protection_problems, verify_chain
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from tests.support.postgres import PG_ADMIN, postgres_available, temporary_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def databases() -> Iterator[tuple[str, str, str]]:
    """(admin URL, application URL, application role) of a fresh database."""
    if (why := postgres_available()) is not None:
        pytest.skip(why)
    import psycopg  # noqa: PLC0415

    role = f"fw_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with temporary_database() as admin_url:
            name = make_url(admin_url).database
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" OWNER TO "{role}"')
            app_url = make_url(admin_url).set(username=role).render_as_string(False)
            yield admin_url, app_url, role
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def _refused(engine_url: str, statement: str) -> str:
    engine = make_engine(engine_url)
    try:
        with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
            conn.execute(text(statement))
        return str(caught.value.orig)
    finally:
        engine.dispose()


def test_the_services_role_cannot_truncate_change_or_own_the_audit_log(
    databases: tuple[str, str, str],
) -> None:
    admin_url, app_url, role = databases
    app = make_engine(app_url)
    upgrade(app)  # the services' role ran the migrations: it owns audit_log now
    assert "the database role owns audit_log (it could drop its triggers)" in protection_problems(
        app
    )
    # even as owner, TRUNCATE meets the trigger
    assert "append-only" in _refused(app_url, "TRUNCATE audit_log")

    admin = make_engine(admin_url)
    with admin.begin() as conn:
        protect(conn, role)
    assert protection_problems(app) == []

    sessions = make_sessionmaker(app)
    for i in range(3):  # the application still appends (INSERT, chain read, advisory lock)
        audit.append(sessions, actor="u", method="GET", path=f"/p/{i}", action="read", status=200)
    with sessions() as session:
        assert verify_chain(session).rows == 3

    for statement in (
        "TRUNCATE audit_log",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TABLE audit_log",
    ):
        message = _refused(app_url, statement)
        assert any(
            m in message for m in ("permission denied", "must be owner", "cannot be dropped")
        ), statement
    # the superuser is stopped by the trigger too (it alone could switch triggers off)
    assert "append-only" in _refused(admin_url, "TRUNCATE audit_log")
    with sessions() as session:
        assert verify_chain(session).rows == 3
    app.dispose()
    admin.dispose()
