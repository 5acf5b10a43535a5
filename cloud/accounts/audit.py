"""The audit log: every read of station data and every change, who, what, when, from where.

Rows are only ever inserted. The database refuses UPDATE and DELETE on ``audit_log``
(triggers from migration 0003, on SQLite and PostgreSQL alike) and TRUNCATE (0008, on
PostgreSQL), so not even a bug in the API can rewrite history; each row is hash-chained to the
one before (``audit_chain.py``, ``fuelwatch audit verify``). The audit administrator queries
it through ``GET /api/v1/audit``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.accounts.audit_chain import chain_hash, last_hash, lock_chain
from fuelwatch.cloud.store.db import paginate
from fuelwatch.cloud.store.models.audit import AuditEntry
from fuelwatch.core.timeutil import utcnow

__all__ = ["AuditQuery", "append", "query_audit", "record"]

_APPEND = threading.Lock()  # one chain: appends of this process one at a time


def _clean(value: str, limit: int) -> str:
    """PostgreSQL text cannot hold NUL: keep such a request's trace readable instead."""
    return value.replace("\x00", "\\x00")[:limit]


def record(
    session: Session,
    *,
    actor: str,
    method: str,
    path: str,
    action: str,
    status: int,
    user_id: int | None = None,
    client_ip: str = "",
    resource: str = "",
    resource_id: str = "",
    station_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=utcnow(),
        actor=_clean(actor, 96),
        user_id=user_id,
        client_ip=_clean(client_ip, 64),
        method=_clean(method, 8),
        path=_clean(path, 512),
        action=_clean(action, 64),
        resource=_clean(resource, 64),
        resource_id=_clean(resource_id, 128),
        station_id=_clean(station_id, 64) if station_id is not None else None,
        status=status,
        detail={k: _clean(v, 2000) if isinstance(v, str) else v for k, v in (detail or {}).items()},
    )
    lock_chain(session)
    entry.prev_hash = last_hash(session)
    entry.row_hash = chain_hash(entry.prev_hash, entry)
    session.add(entry)
    return entry


def append(sessions: sessionmaker[Session], **fields: Any) -> None:
    """Write one row in a transaction of its own, in chain order."""
    with _APPEND, sessions.begin() as session:
        record(session, **fields)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    actor: str | None = None
    action: str | None = None
    resource: str | None = None
    resource_id: str | None = None
    station: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


def query_audit(session: Session, q: AuditQuery) -> tuple[list[AuditEntry], int]:
    stmt = select(AuditEntry)
    for column, value in (
        (AuditEntry.actor, q.actor),
        (AuditEntry.action, q.action),
        (AuditEntry.resource, q.resource),
        (AuditEntry.resource_id, q.resource_id),
        (AuditEntry.station_id, q.station),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if q.since is not None:
        stmt = stmt.where(AuditEntry.at >= q.since)
    if q.until is not None:
        stmt = stmt.where(AuditEntry.at < q.until)
    return paginate(session, stmt, AuditEntry.id.desc(), limit=q.limit, offset=q.offset)
