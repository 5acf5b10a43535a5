"""Pruning removes old finished rows only: pending work and dead letters stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select, update

from fuelwatch.cloud.alerts.retention import prune
from fuelwatch.cloud.alerts.subscriptions import SubscriptionSpec, create_subscription, fan_out
from fuelwatch.cloud.common.netguard import parse_networks
from fuelwatch.cloud.store.db import make_sessionmaker
from fuelwatch.cloud.store.models.alerts import AlertOutbox, DeliveryStatus, WebhookDelivery
from fuelwatch.cloud.store.models.warnings import WarningEvent
from fuelwatch.core.timeutil import utcnow
from tests.alerts.helpers import make_warnings

LOOPBACK = parse_networks(["127.0.0.0/8"])  # the tests' receivers; refused by default


def test_prune_keeps_pending_dead_and_recent(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    events = make_warnings(sessions, "d1", "S1", 6)
    now = utcnow()
    old = now - timedelta(days=40)
    with sessions.begin() as session:
        create_subscription(
            session,
            SubscriptionSpec(name="all", url="http://127.0.0.1:9/"),
            created_by="t",
            allow=LOOPBACK,
        )
        rows = list(session.scalars(select(AlertOutbox).order_by(AlertOutbox.id)))
        fan_out(session, rows, now=now)
    # rows 1-4: done 40 days ago; 5-6: done today. Deliveries: 1, 2, 5, 6 delivered,
    # 3 dead, 4 still pending.
    with engine.begin() as conn:
        conn.execute(update(AlertOutbox).values(done=True))
        conn.execute(update(AlertOutbox).where(AlertOutbox.id <= 4).values(created_at=old))
        conn.execute(update(WebhookDelivery).values(status=DeliveryStatus.DELIVERED))
        for outbox_id, status in ((3, DeliveryStatus.DEAD), (4, DeliveryStatus.PENDING)):
            conn.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.outbox_id == outbox_id)
                .values(status=status)
            )
    assert prune(engine, before=now - timedelta(days=30)) == (2, 2)
    assert prune(engine, before=now - timedelta(days=30)) == (0, 0)
    with sessions() as s:
        left = list(s.scalars(select(AlertOutbox.id).order_by(AlertOutbox.id)))
        deliveries = s.scalar(select(func.count()).select_from(WebhookDelivery))
        kept_events = s.scalar(select(func.count()).select_from(WarningEvent))
    assert left == [3, 4, 5, 6]
    assert deliveries == 4
    assert kept_events == events  # the warning's history is never pruned
