"""Warning tables: the warning, its event trail, comments and attachments.

``dedup_key`` is ``rule_id:station:subject``; a partial unique index (migration 0005) allows
one not-closed warning per key, so a rule that keeps firing updates one warning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fuelwatch.cloud.store.models.alerts import AlertOutbox
from fuelwatch.cloud.store.models.base import Base, UtcDateTime
from fuelwatch.core.timeutil import utcnow

__all__ = ["WarningAttachment", "WarningComment", "WarningEvent", "Warning_"]


class Warning_(Base):  # noqa: N801 - trailing underscore: not the builtin Warning
    __tablename__ = "warnings"
    __table_args__ = (
        Index(
            "uq_warnings_open_key",
            "dedup_key",
            unique=True,
            sqlite_where="state != 'closed'",
            postgresql_where="state != 'closed'",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(256))
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    district_id: Mapped[str] = mapped_column(String(64), index=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    subject: Mapped[str] = mapped_column(String(128))  # e.g. "tank:2", "nozzle:5", "station"
    title_zh: Mapped[str] = mapped_column(String(256))
    title_en: Mapped[str] = mapped_column(String(256))
    message_zh: Mapped[str] = mapped_column(Text, default="")
    message_en: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(24), index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    rectification_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolution: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    events: Mapped[list[WarningEvent]] = relationship(
        order_by="WarningEvent.id", cascade="all, delete-orphan"
    )
    comments: Mapped[list[WarningComment]] = relationship(
        order_by="WarningComment.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[WarningAttachment]] = relationship(
        order_by="WarningAttachment.id", cascade="all, delete-orphan"
    )


class WarningEvent(Base):
    """One transition or occurrence: who (or which rule) did what, when, from which state."""

    __tablename__ = "warning_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(96))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_state: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    #: The alert to push for this event (``fuelwatch.cloud.alerts``), inserted with the event.
    outbox: Mapped[AlertOutbox | None] = relationship(cascade="all, delete-orphan")


class WarningComment(Base):
    __tablename__ = "warning_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    author: Mapped[str] = mapped_column(String(96))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)  # hidden from the station


class WarningAttachment(Base):
    """A file attached to a warning (a station's rectification photos, a report).

    The bytes live in the attachment store (a folder, named by SHA-256); this is its record.
    """

    __tablename__ = "warning_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("warning_events.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(96))
    filename: Mapped[str] = mapped_column(String(256))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
