"""Webhook subscriptions: create/update/delete, which alerts each wants, and the fan-out.

A subscription filters by districts, categories (empty = all) and a minimum severity. The
secret is generated here, returned once by ``create_subscription``, and never listed again.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fuelwatch.cloud.common.categories import Category, Severity
from fuelwatch.cloud.common.netguard import IpNetwork, UrlRefused, resolve_checked
from fuelwatch.cloud.store.models.alerts import (
    AlertOutbox,
    DeliveryStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from fuelwatch.core.timeutil import utcnow

__all__ = [
    "SubscriptionError",
    "SubscriptionSpec",
    "create_subscription",
    "fan_out",
    "matches",
    "requeue_delivery",
    "update_subscription",
]

SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}


class SubscriptionError(ValueError):
    """A subscription that cannot be stored as asked, or a delivery that cannot be requeued."""


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    name: str
    url: str
    districts: Sequence[str] = ()
    categories: Sequence[str] = ()
    min_severity: str = Severity.LOW.value
    enabled: bool = True


def _check(spec: SubscriptionSpec, allow: Sequence[IpNetwork]) -> None:
    try:  # SSRF: syntax, no credentials, every resolved address public or allowed
        resolve_checked(spec.url, allow)
    except UrlRefused as exc:
        raise SubscriptionError(str(exc)) from exc
    if not spec.name.strip():
        raise SubscriptionError("a subscription needs a name")
    unknown = [c for c in spec.categories if c not in Category.__members__.values()]
    if unknown:
        raise SubscriptionError(f"unknown categories: {', '.join(unknown)}")
    if spec.min_severity not in SEVERITY_RANK:
        raise SubscriptionError(f"unknown severity {spec.min_severity!r}")


def create_subscription(
    session: Session,
    spec: SubscriptionSpec,
    *,
    created_by: str,
    allow: Sequence[IpNetwork] = (),
) -> WebhookSubscription:
    """Store a subscription with a fresh secret (``whsec_`` + 32 random bytes, hex).

    ``allow``: networks a receiver may be in although not public (the operator's list)."""
    _check(spec, allow)
    now = utcnow()
    sub = WebhookSubscription(
        name=spec.name.strip(),
        url=spec.url,
        secret="whsec_" + secrets.token_hex(32),
        districts=sorted(set(spec.districts)),
        categories=sorted(set(spec.categories)),
        min_severity=spec.min_severity,
        enabled=spec.enabled,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    session.flush()
    return sub


def update_subscription(
    session: Session,
    sub: WebhookSubscription,
    spec: SubscriptionSpec,
    *,
    allow: Sequence[IpNetwork] = (),
) -> WebhookSubscription:
    _check(spec, allow)
    sub.name, sub.url = spec.name.strip(), spec.url
    sub.districts, sub.categories = sorted(set(spec.districts)), sorted(set(spec.categories))
    sub.min_severity, sub.enabled = spec.min_severity, spec.enabled
    sub.updated_at = utcnow()
    session.flush()
    return sub


def matches(sub: WebhookSubscription, row: AlertOutbox) -> bool:
    return (
        sub.enabled
        and (not sub.districts or row.district_id in sub.districts)
        and (not sub.categories or row.category in sub.categories)
        and SEVERITY_RANK.get(row.severity, 0) >= SEVERITY_RANK.get(sub.min_severity, 0)
    )


def fan_out(session: Session, rows: Sequence[AlertOutbox], *, now: datetime) -> int:
    """Add a pending delivery per matching subscription and row; idempotent; returns adds.

    Rows already fanned out are skipped, and an existing (subscription, row) pair is never
    added twice, so a sender redoing a batch after a crash creates no duplicate deliveries.
    """
    todo = [r for r in rows if r.fanned_out_at is None]
    if not todo:
        return 0
    subs = list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.enabled)))
    existing = {
        (sub_id, outbox_id)
        for sub_id, outbox_id in session.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.outbox_id).where(
                WebhookDelivery.outbox_id.in_([r.id for r in todo])
            )
        )
    }
    added = 0
    for row in todo:
        for sub in subs:
            if matches(sub, row) and (sub.id, row.id) not in existing:
                session.add(
                    WebhookDelivery(
                        subscription_id=sub.id,
                        outbox_id=row.id,
                        status=DeliveryStatus.PENDING,
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now,
                        last_error="",
                    )
                )
                added += 1
        row.fanned_out_at = now
    session.flush()
    return added


def requeue_delivery(session: Session, delivery: WebhookDelivery) -> WebhookDelivery:
    """A dead delivery gets a fresh start: pending, no attempts, due now."""
    if delivery.status != DeliveryStatus.DEAD:
        raise SubscriptionError(f"delivery {delivery.id} is {delivery.status}, not dead")
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.requeued_at = utcnow()  # the age limit counts from here
    delivery.lease_owner = delivery.lease_until = None
    delivery.last_error = f"requeued after: {delivery.last_error}"[:4000]
    session.flush()
    return delivery
