"""Claiming work safely when several senders share one database.

A claim is a short write transaction that picks the oldest free rows and stamps them with a
lease (owner + expiry). Two senders never get the same free row:

- PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``; a row locked by the other sender's claim
  is skipped, not waited for.
- SQLite: the transaction starts with ``BEGIN IMMEDIATE``, taking the database's write lock
  before reading, so the second claim reads only after the first has committed its leases.

A sender that dies keeps its leases until they expire; then the rows are free again. That is
the at-least-once path: work done but not yet marked is done again (docs/alerts.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, or_, select, update

from fuelwatch.cloud.store.models.alerts import (
    AlertOutbox,
    DeliveryStatus,
    WebhookDelivery,
    WebhookSubscription,
)

__all__ = ["claim_deliveries", "claim_outbox", "claim_transaction", "release_outbox"]


@contextmanager
def claim_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction that holds the write lock from its first statement on SQLite."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            # The sqlite3 driver has not begun a transaction yet (it waits for the first
            # write); begin it ourselves, taking the write lock now, as ingest's sequence
            # store does.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def claim_outbox(
    engine: Engine, *, owner: str, limit: int, lease: timedelta, now: datetime
) -> list[int]:
    """Lease up to ``limit`` unfinished outbox rows, oldest first; return their ids."""
    free = or_(AlertOutbox.lease_until.is_(None), AlertOutbox.lease_until < now)
    with claim_transaction(engine) as conn:
        ids = list(
            conn.scalars(
                select(AlertOutbox.id)
                .where(AlertOutbox.done.is_(False), free)
                .order_by(AlertOutbox.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            conn.execute(
                update(AlertOutbox)
                .where(AlertOutbox.id.in_(ids))
                .values(
                    lease_owner=owner,
                    lease_until=now + lease,
                    attempts=AlertOutbox.attempts + 1,
                )
            )
    return ids


def release_outbox(engine: Engine, ids: list[int], *, owner: str) -> None:
    """Give rows back before their lease ends (a stage failed; retry them in order)."""
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(AlertOutbox)
            .where(AlertOutbox.id.in_(ids), AlertOutbox.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def claim_deliveries(
    engine: Engine, *, owner: str, limit: int, lease: timedelta, now: datetime
) -> list[int]:
    """Lease up to ``limit`` due webhook deliveries of enabled subscriptions, oldest first."""
    free = or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)
    enabled = select(WebhookSubscription.id).where(WebhookSubscription.enabled.is_(True))
    with claim_transaction(engine) as conn:
        ids = list(
            conn.scalars(
                select(WebhookDelivery.id)
                .where(
                    and_(
                        WebhookDelivery.status == DeliveryStatus.PENDING,
                        WebhookDelivery.next_attempt_at <= now,
                        WebhookDelivery.subscription_id.in_(enabled),
                        free,
                    )
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            conn.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids))
                .values(lease_owner=owner, lease_until=now + lease)
            )
    return ids
