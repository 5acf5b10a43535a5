"""Alert push administration: webhook subscriptions, their deliveries, dead letters, requeue,
and the outbox backlog.

Only ``alert.manage`` (platform admins) may use these: a subscription sends warnings of any
district to an outside address. A subscription's secret is returned once, when it is created
(or rotated), and never again.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete as delete_
from sqlalchemy import func, select

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.alerts.subscriptions import (
    SubscriptionError,
    SubscriptionSpec,
    create_subscription,
    requeue_delivery,
    update_subscription,
)
from fuelwatch.cloud.api.audit_log import note
from fuelwatch.cloud.api.deps import Offset, Page, RowId, SessionDep, StateDep, allow, not_found
from fuelwatch.cloud.common.categories import Category, Severity
from fuelwatch.cloud.store.db import paginate
from fuelwatch.cloud.store.models.alerts import (
    AlertOutbox,
    DeliveryStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from fuelwatch.cloud.store.models.warnings import WarningEvent
from fuelwatch.core.timeutil import utcnow

router = APIRouter(tags=["alerts"])
Manager = Annotated[Principal, Depends(allow(Permission.ALERT_MANAGE))]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "税务局预警接收 tax bureau intake",
                    "url": "https://tax.example.gov.cn/fuelwatch/hook",
                    "districts": ["binhai"],
                    "categories": ["tax_control", "declaration_deviation"],
                    "min_severity": "medium",
                    "enabled": True,
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=128)
    url: str = Field(min_length=1, max_length=2048, description="http(s) address to POST to")
    districts: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=500, description="empty: every district"
    )
    categories: list[Category] = Field(default_factory=list, description="empty: all")
    min_severity: Severity = Severity.LOW
    enabled: bool = True

    def spec(self) -> SubscriptionSpec:
        return SubscriptionSpec(
            name=self.name,
            url=self.url,
            districts=self.districts,
            categories=[c.value for c in self.categories],
            min_severity=self.min_severity.value,
            enabled=self.enabled,
        )


class SubscriptionOut(BaseModel):
    id: int
    name: str
    url: str
    districts: list[str]
    categories: list[str]
    min_severity: str
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    pending: int = Field(description="deliveries waiting to be attempted")
    dead: int = Field(description="dead letters")


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="HMAC key for Fuelwatch-Signature; shown only this once")


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    subscription_name: str
    event_id: int
    warning_id: int | None
    district: str
    station: str
    category: str
    severity: str
    action: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    response_code: int | None
    last_error: str
    delivered_at: datetime | None
    requeued_at: datetime | None


class OutboxOut(BaseModel):
    pending: int = Field(description="events not yet fully pushed")
    oldest_pending_at: datetime | None
    oldest_pending_age_s: float | None
    unpublished: int = Field(description="events whose MQTT publish is not yet acknowledged")
    done: int
    deliveries: dict[str, int] = Field(description="webhook deliveries by status")


def _counts(session: SessionDep, sub_ids: list[int]) -> dict[tuple[int, str], int]:
    if not sub_ids:
        return {}
    rows = session.execute(
        select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.subscription_id.in_(sub_ids))
        .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status)
    )
    return {(int(s), str(st)): int(n) for s, st, n in rows}


def _out(sub: WebhookSubscription, counts: dict[tuple[int, str], int]) -> SubscriptionOut:
    return SubscriptionOut(
        id=sub.id,
        name=sub.name,
        url=sub.url,
        districts=sub.districts,
        categories=sub.categories,
        min_severity=sub.min_severity,
        enabled=sub.enabled,
        created_by=sub.created_by,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
        pending=counts.get((sub.id, DeliveryStatus.PENDING), 0),
        dead=counts.get((sub.id, DeliveryStatus.DEAD), 0),
    )


def _get(session: SessionDep, sub_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None:
        raise not_found(f"webhook subscription {sub_id}")
    return sub


def _invalid(exc: SubscriptionError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.get("/alerts/webhooks", summary="Webhook subscriptions (secrets are never listed)")
def list_subscriptions(session: SessionDep, _: Manager) -> list[SubscriptionOut]:
    subs = list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))
    counts = _counts(session, [s.id for s in subs])
    return [_out(s, counts) for s in subs]


@router.post(
    "/alerts/webhooks",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a webhook; the answer carries its secret, shown only this once",
)
def create(
    session: SessionDep,
    state: StateDep,
    request: Request,
    principal: Manager,
    body: SubscriptionIn,
) -> SubscriptionCreated:
    try:
        sub = create_subscription(
            session,
            body.spec(),
            created_by=principal.actor,
            allow=state.settings.webhook_allow(),
        )
    except SubscriptionError as exc:
        raise _invalid(exc) from exc
    session.commit()
    note(request, action="webhook.create", resource_id=str(sub.id))
    return SubscriptionCreated(**_out(sub, {}).model_dump(), secret=sub.secret)


@router.get("/alerts/webhooks/{subscription_id}", summary="One webhook subscription")
def get_subscription(session: SessionDep, _: Manager, subscription_id: RowId) -> SubscriptionOut:
    sub = _get(session, subscription_id)
    return _out(sub, _counts(session, [sub.id]))


@router.put("/alerts/webhooks/{subscription_id}", summary="Change a webhook subscription")
def update(
    session: SessionDep,
    state: StateDep,
    _: Manager,
    subscription_id: RowId,
    body: SubscriptionIn,
) -> SubscriptionOut:
    sub = _get(session, subscription_id)
    try:
        update_subscription(session, sub, body.spec(), allow=state.settings.webhook_allow())
    except SubscriptionError as exc:
        raise _invalid(exc) from exc
    session.commit()
    return _out(sub, _counts(session, [sub.id]))


@router.post(
    "/alerts/webhooks/{subscription_id}/rotate-secret",
    summary="Replace the secret; the answer carries the new one, shown only this once",
)
def rotate_secret(
    session: SessionDep, request: Request, _: Manager, subscription_id: RowId
) -> SubscriptionCreated:
    sub = _get(session, subscription_id)
    sub.secret = "whsec_" + secrets.token_hex(32)
    sub.updated_at = utcnow()
    session.commit()
    note(request, action="webhook.rotate_secret")
    return SubscriptionCreated(
        **_out(sub, _counts(session, [sub.id])).model_dump(), secret=sub.secret
    )


@router.delete(
    "/alerts/webhooks/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook subscription and its delivery records",
)
def delete(session: SessionDep, _: Manager, subscription_id: RowId) -> Response:
    sub = _get(session, subscription_id)
    session.execute(delete_(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
    session.delete(sub)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _delivery_rows(
    session: SessionDep,
    *,
    status_: str | None,
    subscription_id: int | None,
    limit: int,
    offset: int,
) -> Page[DeliveryOut]:
    stmt = select(WebhookDelivery)
    if status_ is not None:
        stmt = stmt.where(WebhookDelivery.status == status_)
    if subscription_id is not None:
        stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
    rows, total = paginate(session, stmt, WebhookDelivery.id.desc(), limit=limit, offset=offset)
    return Page[DeliveryOut](
        items=[_delivery(session, d) for d in rows], total=total, limit=limit, offset=offset
    )


def _delivery(session: SessionDep, d: WebhookDelivery) -> DeliveryOut:
    row = d.outbox
    warning_id = session.scalar(
        select(WarningEvent.warning_id).where(WarningEvent.id == row.event_id)
    )
    return DeliveryOut(
        id=d.id,
        subscription_id=d.subscription_id,
        subscription_name=d.subscription.name,
        event_id=row.event_id,
        warning_id=warning_id,
        district=row.district_id,
        station=row.station_id,
        category=row.category,
        severity=row.severity,
        action=str(row.payload.get("action", "")),
        status=d.status,
        attempts=d.attempts,
        created_at=d.created_at,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        response_code=d.response_code,
        last_error=d.last_error,
        delivered_at=d.delivered_at,
        requeued_at=d.requeued_at,
    )


DeliveryStatusQ = Annotated[str | None, Query(alias="status", pattern="^(pending|delivered|dead)$")]
Limit = Annotated[int, Query(ge=1, le=500)]
SubscriptionQ = Annotated[int | None, Query(ge=1, le=2_147_483_647)]


@router.get("/alerts/deliveries", summary="Webhook deliveries, newest first")
def list_deliveries(
    session: SessionDep,
    _: Manager,
    status_: DeliveryStatusQ = None,
    subscription_id: SubscriptionQ = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[DeliveryOut]:
    return _delivery_rows(
        session, status_=status_, subscription_id=subscription_id, limit=limit, offset=offset
    )


@router.get("/alerts/dead-letters", summary="Dead webhook deliveries (gave up), newest first")
def dead_letters(
    session: SessionDep,
    _: Manager,
    subscription_id: SubscriptionQ = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[DeliveryOut]:
    return _delivery_rows(
        session,
        status_=DeliveryStatus.DEAD,
        subscription_id=subscription_id,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/alerts/deliveries/{delivery_id}/requeue",
    summary="Send a dead delivery again (attempts start over)",
)
def requeue(session: SessionDep, request: Request, _: Manager, delivery_id: RowId) -> DeliveryOut:
    d = session.get(WebhookDelivery, delivery_id)
    if d is None:
        raise not_found(f"delivery {delivery_id}")
    try:
        requeue_delivery(session, d)
    except SubscriptionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    session.commit()
    note(request, action="webhook.requeue")
    return _delivery(session, d)


@router.get("/alerts/outbox", summary="Alert outbox backlog and delivery counts")
def outbox(session: SessionDep, _: Manager) -> OutboxOut:
    pending = AlertOutbox.done.is_(False)
    oldest = session.scalar(select(func.min(AlertOutbox.created_at)).where(pending))
    deliveries = {
        str(s): int(n)
        for s, n in session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
    }
    return OutboxOut(
        pending=session.scalar(select(func.count()).where(pending)) or 0,
        oldest_pending_at=oldest,
        oldest_pending_age_s=(utcnow() - oldest).total_seconds() if oldest else None,
        unpublished=session.scalar(select(func.count()).where(AlertOutbox.published_at.is_(None)))
        or 0,
        done=session.scalar(select(func.count()).where(AlertOutbox.done.is_(True))) or 0,
        deliveries=deliveries,
    )
