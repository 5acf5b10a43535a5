"""The webhook stage: POST due deliveries, signed; back off on failure; dead after too many.

Each attempt signs afresh (``t`` is the time of that attempt), so a retry hours later is still
inside the receiver's replay window. A 2xx answer is delivered; anything else (another status,
a timeout, a refused connection) is a failed attempt. The next one is due after
``webhook_retry.delay(n - 1)`` (``fuelwatch.core.retry``), where ``n`` is the number of attempts
made so far; the schedule lives in the database (``next_attempt_at``), so it is computed from
that count, not kept in a loop. With the defaults::

    delay = uniform(d / 2, d),  d = min(cap, base * 2 ** (n - 1))

("equal jitter", ``jitter = 0.5``: never sooner than half the exponential delay, so a receiver
that is down is not hammered, and senders do not retry in lockstep). Once
``webhook_retry.exhausted(n, age)`` (``max_attempts`` attempts, or a failure once the delivery
is older than ``deadline``), it is dead: kept, listed for operators, and sent again only when
requeued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.alerts.claims import claim_deliveries
from fuelwatch.cloud.alerts.messages import dumps
from fuelwatch.cloud.alerts.settings import AlertSettings
from fuelwatch.cloud.alerts.signing import HEADER, sign
from fuelwatch.cloud.common.netguard import IpNetwork, UrlRefused, pin
from fuelwatch.cloud.store.models.alerts import (
    AlertOutbox,
    DeliveryStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from fuelwatch.cloud.store.models.warnings import WarningEvent
from fuelwatch.cloud.warnings.outbox import render
from fuelwatch.core import __version__
from fuelwatch.core.timeutil import utcnow

__all__ = ["WebhookSender", "WebhookStats"]

LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class WebhookStats:
    attempts: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    dead: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: int
    attempts: int
    started: datetime
    url: str
    secret: str
    event_id: int
    body: bytes


@dataclass(frozen=True, slots=True)
class _Outcome:
    job: _Job
    code: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


class WebhookSender:
    def __init__(
        self,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        settings: AlertSettings,
        owner: str,
        http: httpx.AsyncClient,
        allow_networks: Sequence[IpNetwork] = (),
        logger: logging.Logger | None = None,
    ) -> None:
        self._allow = tuple(allow_networks)
        self._engine = engine
        self._sessions = sessions
        self._settings = settings
        self._owner = owner
        self._http = http
        self._log = logger or LOGGER
        self._limit = asyncio.Semaphore(settings.webhook_concurrency)
        self.stats = WebhookStats()

    async def run_once(self) -> int:
        """Attempt the due deliveries of one batch; returns how many were attempted."""
        lease = timedelta(seconds=self._settings.lease_seconds + self._settings.webhook_timeout)
        ids = await asyncio.to_thread(
            claim_deliveries,
            self._engine,
            owner=self._owner,
            limit=self._settings.webhook_batch_size,
            lease=lease,
            now=utcnow(),
        )
        if not ids:
            return 0
        jobs = await asyncio.to_thread(self._jobs, ids)
        outcomes = await asyncio.gather(*(self._attempt(job) for job in jobs))
        await asyncio.to_thread(self._record, outcomes)
        return len(jobs)

    def _jobs(self, ids: list[int]) -> list[_Job]:
        with self._sessions() as session:
            rows = session.execute(
                select(WebhookDelivery, WebhookSubscription, AlertOutbox, WarningEvent.warning_id)
                .join(
                    WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id
                )
                .join(AlertOutbox, AlertOutbox.id == WebhookDelivery.outbox_id)
                .join(WarningEvent, WarningEvent.id == AlertOutbox.event_id)
                .where(WebhookDelivery.id.in_(ids))
                .order_by(WebhookDelivery.id)
            )
            return [
                _Job(
                    delivery_id=d.id,
                    attempts=d.attempts,
                    started=d.requeued_at or d.created_at,
                    url=sub.url,
                    secret=sub.secret,
                    event_id=row.event_id,
                    body=dumps(render(row, warning_id)),
                )
                for d, sub, row, warning_id in rows
            ]

    async def _attempt(self, job: _Job) -> _Outcome:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"fuelwatch-alerts/{__version__}",
            HEADER: sign(job.secret, job.body),
            "Fuelwatch-Event-Id": str(job.event_id),
            "Fuelwatch-Delivery-Id": str(job.delivery_id),
            "Fuelwatch-Attempt": str(job.attempts + 1),
        }
        # The errors kept on the delivery (and shown through the API) are generic on purpose:
        # detailed connection errors would make the sender a port scanner. Details go to the log.
        async with self._limit:
            try:
                target = await pin(job.url, self._allow)  # SSRF guard, before any connection
            except UrlRefused as exc:
                self._log.warning("webhook delivery %s refused: %s", job.delivery_id, exc)
                return _Outcome(job, None, "refused: the receiver's address is not allowed")
            try:
                resp = await self._http.post(
                    target.url,
                    content=job.body,
                    headers=headers | {"Host": target.host_header},
                    timeout=self._settings.webhook_timeout,
                    extensions=target.extensions,
                )
            except httpx.TimeoutException as exc:
                self._log.info("webhook delivery %s: %r", job.delivery_id, exc)
                return _Outcome(job, None, "timeout")
            except httpx.HTTPError as exc:
                self._log.info("webhook delivery %s: %r", job.delivery_id, exc)
                return _Outcome(job, None, "connection failed")
        if 200 <= resp.status_code < 300:
            return _Outcome(job, resp.status_code, "")
        return _Outcome(job, resp.status_code, f"HTTP {resp.status_code}")

    def _record(self, outcomes: list[_Outcome]) -> None:
        policy = self._settings.webhook_retry
        now = utcnow()
        with self._sessions.begin() as session:
            for out in outcomes:
                d = session.get(WebhookDelivery, out.job.delivery_id)
                if d is None:  # its subscription was deleted meanwhile
                    continue
                self.stats.attempts += 1
                d.attempts += 1
                d.last_attempt_at = now
                d.response_code = out.code
                d.lease_owner = d.lease_until = None
                if out.ok:
                    d.status, d.delivered_at, d.last_error = DeliveryStatus.DELIVERED, now, ""
                    self.stats.delivered += 1
                    continue
                d.last_error = out.error
                self.stats.failed_attempts += 1
                self.stats.last_error = out.error
                age = (now - out.job.started).total_seconds()
                if policy.exhausted(d.attempts, age):
                    d.status = DeliveryStatus.DEAD
                    self.stats.dead += 1
                    self._log.warning(
                        "webhook delivery %s (event %s) is dead after %s attempts: %s",
                        d.id,
                        out.job.event_id,
                        d.attempts,
                        out.error,
                    )
                else:
                    delay = policy.delay(d.attempts - 1)
                    d.next_attempt_at = now + timedelta(seconds=delay)
