"""The audit log: every read of station data and every change, who, what, when, from where.

Rows are only ever inserted. The database refuses UPDATE and DELETE on ``audit_log``
(triggers from migration 0003, on SQLite and PostgreSQL alike), so not even a bug in the API
can rewrite history; admins query it through ``GET /api/v1/audit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from cloud.registry.db import paginate
from cloud.registry.models import Base, UtcDateTime, utcnow

__all__ = ["AuditEntry", "AuditQuery", "query_audit", "record"]


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(96), index=True)  # user name, or key:<id>
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    action: Mapped[str] = mapped_column(String(64), index=True)  # read, create, login ...
    resource: Mapped[str] = mapped_column(String(64), default="")  # station, warning ...
    resource_id: Mapped[str] = mapped_column(String(128), default="")
    station_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


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
    session.add(entry)
    return entry


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
