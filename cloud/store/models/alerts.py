"""Alert push tables: the outbox, webhook subscriptions and their deliveries.

``alert_outbox`` gets one row per ``WarningEvent``, added in the same transaction as the event
(``fuelwatch.cloud.warnings.service._event``), so an event is either pushed or was never committed.
The row keeps a snapshot of the alert as it was at that moment: a sender that runs hours later still
pushes what the warning said then, not what it says now.

A row moves through three stages, each stamped when it succeeded: ``fanned_out_at`` (one
``webhook_deliveries`` row per matching subscription), ``published_at`` (MQTT PUBACK),
``stored_at`` (the ``warning_event`` point in InfluxDB); ``done`` once all three are.

Columns named ``lease_*`` let several senders share the work: a claimed row belongs to one
sender until its lease runs out; a sender killed mid-batch leaves leases that simply expire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fuelwatch.cloud.store.models.base import Base, UtcDateTime
from fuelwatch.core.timeutil import utcnow

__all__ = ["AlertOutbox", "DeliveryStatus", "WebhookDelivery", "WebhookSubscription"]


class AlertOutbox(Base):
    __tablename__ = "alert_outbox"
    __table_args__ = (Index("ix_alert_outbox_pending", "done", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Filled on flush through ``WarningEvent.outbox``; the warning is the event's warning.
    event_id: Mapped[int] = mapped_column(ForeignKey("warning_events.id"), unique=True)
    district_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Three independent stages; the row is done when all three are set.
    fanned_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    stored_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str] = mapped_column(Text, default="")


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class WebhookSubscription(Base):
    """Where to POST alerts, and which: empty ``districts``/``categories`` mean all."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(String(2048))
    # Kept in clear: the sender needs it to sign. Shown once, when the subscription is made.
    secret: Mapped[str] = mapped_column(String(128))
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_severity: Mapped[str] = mapped_column(String(16), default="low")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One subscription x one outbox row: its attempts until delivered or dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "outbox_id", name="uq_webhook_delivery"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    outbox_id: Mapped[int] = mapped_column(ForeignKey("alert_outbox.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    requeued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    subscription: Mapped[WebhookSubscription] = relationship()
    outbox: Mapped[AlertOutbox] = relationship()
