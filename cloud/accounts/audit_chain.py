"""The audit log's hash chain, and its protection on PostgreSQL.

Each row written since migration 0008 carries ``prev_hash`` (the previous row's
``row_hash``; 64 zeros for the first) and ``row_hash``::

    row_hash = SHA-256( prev_hash || "\\n" || canonical JSON of the row's content )

where the content is ``at`` (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``), ``actor``, ``user_id``,
``client_ip``, ``method``, ``path``, ``action``, ``resource``, ``resource_id``,
``station_id``, ``status`` and ``detail``, serialised with sorted keys, no spaces, UTF-8.
Changing, inserting or deleting a row in the middle breaks the chain at that row; cutting
rows off the end is found by comparing with the last ``(id, row_hash)`` an auditor noted
(``fuelwatch audit verify`` prints it). Appends are serialised (a process lock, and on
PostgreSQL a transaction-scoped advisory lock), so ids follow the chain.

On PostgreSQL the application's role should neither own ``audit_log`` nor hold TRUNCATE,
UPDATE or DELETE on it: ``protect`` (run as a database administrator) moves the table to a
NOLOGIN owner role, leaves the application SELECT and INSERT, and (as superuser) adds an
event trigger refusing ``DROP`` of the table, which the schema's owner could otherwise do.
The TRUNCATE trigger of migration 0008 stops even the owner; only a superuser can switch
triggers off, which is why the application must never connect as one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session

from fuelwatch.cloud.store.models.audit import AuditEntry

__all__ = [
    "GENESIS",
    "OWNER_ROLE",
    "ChainReport",
    "chain_hash",
    "last_hash",
    "lock_chain",
    "protect",
    "protection_problems",
    "verify_chain",
]

GENESIS = "0" * 64
OWNER_ROLE = "fuelwatch_audit_owner"
_ADVISORY_KEY = 0x46574155  # "FWAU": the audit chain's append lock
_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _content(entry: AuditEntry) -> bytes:
    at = entry.at.astimezone(UTC) if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    fields: dict[str, Any] = {
        "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": entry.actor,
        "user_id": entry.user_id,
        "client_ip": entry.client_ip,
        "method": entry.method,
        "path": entry.path,
        "action": entry.action,
        "resource": entry.resource,
        "resource_id": entry.resource_id,
        "station_id": entry.station_id,
        "status": entry.status,
        "detail": entry.detail or {},
    }
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def chain_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _content(entry)).hexdigest()


def lock_chain(session: Session) -> None:
    """Serialise appends across processes (PostgreSQL; released at commit)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})


def last_hash(session: Session) -> str:
    found = session.scalar(
        select(AuditEntry.row_hash)
        .where(AuditEntry.row_hash.is_not(None))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    return found or GENESIS


@dataclass(slots=True)
class ChainReport:
    rows: int = 0  # rows checked
    unchained: int = 0  # rows from before the chain (no hash)
    last_id: int | None = None
    last_hash: str = GENESIS
    broken: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.broken


def _rows(session: Session, batch: int = 2000) -> Iterator[AuditEntry]:
    after = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id
        session.expunge_all()


def verify_chain(session: Session, *, max_problems: int = 20) -> ChainReport:
    report = ChainReport(broken=[])
    assert report.broken is not None
    prev = GENESIS
    for entry in _rows(session):
        if entry.row_hash is None:  # from before migration 0008, or a row slipped in
            if report.last_id is not None:
                report.broken.append(f"row {entry.id}: no hash after chained rows")
            report.unchained += 1
            continue
        report.rows += 1
        if entry.prev_hash != prev:
            report.broken.append(
                f"row {entry.id}: prev_hash does not match the row before it "
                "(a row was deleted or inserted)"
            )
        if chain_hash(entry.prev_hash or "", entry) != entry.row_hash:
            report.broken.append(f"row {entry.id}: content does not match its hash (changed)")
        prev = entry.row_hash
        report.last_id, report.last_hash = entry.id, entry.row_hash
        if len(report.broken) >= max_problems:
            break
    return report


def protection_problems(engine: Engine) -> list[str]:
    """What the connected role could do to the audit log that it should not (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT r.rolsuper, pg_get_userbyid(c.relowner) = current_user, "
                "has_table_privilege('audit_log', 'TRUNCATE'), "
                "has_table_privilege('audit_log', 'UPDATE'), "
                "has_table_privilege('audit_log', 'DELETE') "
                "FROM pg_class c, pg_roles r "
                "WHERE c.relname = 'audit_log' AND c.relkind = 'r' AND r.rolname = current_user"
            )
        ).one()
    problems = []
    for flag, what in zip(
        row,
        (
            "is a superuser (it could switch the audit triggers off)",
            "owns audit_log (it could drop its triggers)",
            "may TRUNCATE audit_log",
            "may UPDATE audit_log",
            "may DELETE from audit_log",
        ),
        strict=True,
    ):
        if flag:
            problems.append(f"the database role {what}")
    return problems


PG_NO_DROP = """
CREATE OR REPLACE FUNCTION fuelwatch_audit_no_drop() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE dropped record;
BEGIN
    FOR dropped IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
        IF dropped.object_type = 'table' AND dropped.object_name = 'audit_log' THEN
            RAISE EXCEPTION 'audit_log cannot be dropped';
        END IF;
    END LOOP;
END $$;
DROP EVENT TRIGGER IF EXISTS fuelwatch_audit_no_drop;
CREATE EVENT TRIGGER fuelwatch_audit_no_drop ON sql_drop
    EXECUTE FUNCTION fuelwatch_audit_no_drop();
"""


def protect(conn: Connection, app_role: str) -> None:
    """As a database administrator: give ``audit_log`` to a NOLOGIN owner role and leave
    ``app_role`` (the services' role) only SELECT and INSERT on it. As a superuser, also an
    event trigger that refuses dropping the table - the owner of the schema (often the
    services' role) could otherwise drop any table in it."""
    if not _ROLE.match(app_role):
        raise ValueError(f"{app_role!r} is not a plain PostgreSQL role name")
    conn.execute(
        text(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
            f"'{OWNER_ROLE}') THEN CREATE ROLE {OWNER_ROLE} NOLOGIN; END IF; END $$"
        )
    )
    sequence = conn.scalar(text("SELECT pg_get_serial_sequence('audit_log', 'id')"))
    for statement in (
        f"ALTER TABLE audit_log OWNER TO {OWNER_ROLE}",
        f"ALTER FUNCTION audit_log_append_only() OWNER TO {OWNER_ROLE}",
        "REVOKE ALL ON audit_log FROM PUBLIC",
        f'REVOKE ALL ON audit_log FROM "{app_role}"',
        f'GRANT SELECT, INSERT ON audit_log TO "{app_role}"',
    ):
        conn.execute(text(statement))
    if sequence:
        conn.execute(text(f'GRANT USAGE, SELECT ON SEQUENCE {sequence} TO "{app_role}"'))
    if conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")):
        conn.execute(text(PG_NO_DROP))
