"""The webhook stage: POST due deliveries, signed; back off on failure; dead after too many.

Each attempt signs afresh (``t`` is the time of that attempt), so a retry hours later is still
inside the receiver's replay window. A 2xx answer is delivered; anything else (another status,
a timeout, a refused connection) is a failed attempt, retried after

    delay(n) = uniform(d / 2, d),  d = min(backoff_max, backoff_base * 2 ** (n - 1))

where ``n`` is the number of attempts made so far ("equal jitter": never sooner than half the
exponential delay, so a receiver that is down is not hammered, and senders do not retry in
lockstep). After ``max_attempts`` attempts, or a failure once the delivery is older than
``max_age``, it is dead: kept, listed for operators, and sent again only when requeued.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.claims import claim_deliveries
from cloud.alerts.messages import dumps
from cloud.alerts.models import (
    AlertOutbox,
    DeliveryStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from cloud.alerts.outbox import render
from cloud.alerts.settings import AlertSettings
from cloud.alerts.signing import HEADER, sign
from cloud.registry.models import utcnow
from cloud.warnings.models import WarningEvent
from fuelwatch import __version__

__all__ = ["WebhookSender", "WebhookStats", "backoff_delay"]

LOGGER = logging.getLogger(__name__)


def backoff_delay(
    attempts: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1-based), with jitter."""
    d = min(cap, base * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(d / 2, d)


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
        logger: logging.Logger | None = None,
    ) -> None:
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
        async with self._limit:
            try:
                resp = await self._http.post(
                    job.url,
                    content=job.body,
                    headers=headers,
                    timeout=self._settings.webhook_timeout,
                )
            except httpx.HTTPError as exc:
                return _Outcome(job, None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= resp.status_code < 300:
            return _Outcome(job, resp.status_code, "")
        return _Outcome(job, resp.status_code, f"HTTP {resp.status_code}: {resp.text[:300]}")

    def _record(self, outcomes: list[_Outcome]) -> None:
        s = self._settings
        now = utcnow()
        max_age = timedelta(hours=s.webhook_max_age_hours)
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
                if d.attempts >= s.webhook_max_attempts or now - out.job.started >= max_age:
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
                    delay = backoff_delay(
                        d.attempts, base=s.webhook_backoff_base, cap=s.webhook_backoff_max
                    )
                    d.next_attempt_at = now + timedelta(seconds=delay)
