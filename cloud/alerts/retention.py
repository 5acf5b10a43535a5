"""Optional pruning of finished alert rows (``FUELWATCH_ALERTS_RETENTION_DAYS``).

Removes outbox rows that are done and older than the horizon, with their delivered webhook
deliveries. A row with a pending or dead delivery is kept (a dead letter stays until someone
requeues it or deletes its subscription). The warning events themselves are never touched:
they are the warning's history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, delete, exists, select

from fuelwatch.cloud.store.models.alerts import AlertOutbox, DeliveryStatus, WebhookDelivery

__all__ = ["prune"]


def prune(engine: Engine, *, before: datetime) -> tuple[int, int]:
    """Delete finished rows created before ``before``; return (outbox rows, deliveries)."""
    old_done = select(AlertOutbox.id).where(
        AlertOutbox.done.is_(True), AlertOutbox.created_at < before
    )
    unfinished = exists().where(
        and_(
            WebhookDelivery.outbox_id == AlertOutbox.id,
            WebhookDelivery.status != DeliveryStatus.DELIVERED,
        )
    )
    with engine.begin() as conn:
        prunable = list(conn.scalars(old_done.where(~unfinished)))
        if not prunable:
            return 0, 0
        deliveries = conn.execute(
            delete(WebhookDelivery).where(WebhookDelivery.outbox_id.in_(prunable))
        ).rowcount
        rows = conn.execute(delete(AlertOutbox).where(AlertOutbox.id.in_(prunable))).rowcount
    return int(rows or 0), int(deliveries or 0)
