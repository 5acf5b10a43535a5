"""The ``fuelwatch cloud alerts`` process: one MQTT connection, the outbox and webhook loops.

``AlertService`` owns three named tasks in one TaskGroup:

- ``alerts-mqtt`` keeps one MQTT 5 connection as the cloud account, reconnecting by the
  ``mqtt_retry`` policy (``fuelwatch.core.retry``); while it is down the outbox loop still fans
  out and stores points;
- ``alerts-outbox`` claims outbox batches (``publisher``) and sleeps ``poll_interval`` when
  there is nothing to do or a batch could not be finished;
- ``alerts-webhooks`` attempts due deliveries (``webhooks``).

Polling is deliberate: the outbox is filled by other processes (rule engine, API), and a
database row is the only signal they share with this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta
from types import TracebackType
from typing import Self

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from fuelwatch.cloud.alerts.publisher import OutboxPublisher
from fuelwatch.cloud.alerts.retention import prune
from fuelwatch.cloud.alerts.settings import AlertSettings
from fuelwatch.cloud.alerts.webhooks import WebhookSender
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, require_schema
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.core.errors import UserFacingError
from fuelwatch.core.mqtt import MqttClient, MqttError
from fuelwatch.core.retry import Backoff
from fuelwatch.core.timeutil import utcnow

__all__ = ["AlertService", "AlertsError", "run_alerts"]

LOGGER = logging.getLogger("fuelwatch.cloud.alerts")
PRUNE_INTERVAL = 3600.0


class AlertsError(UserFacingError, RuntimeError):
    """The sender cannot start (database unreachable, schema too old)."""


class AlertService:
    def __init__(
        self,
        settings: CloudSettings,
        alerts: AlertSettings,
        *,
        engine: Engine,
        logger: logging.Logger | None = None,
    ) -> None:
        self._settings = settings
        self._alerts = alerts
        self._engine = engine
        self._log = logger or LOGGER
        self._mqtt: MqttClient | None = None
        self._influx = InfluxClient(
            settings.influx_url,
            settings.influx_db,
            username=settings.influx_username,
            password=settings.influx_password,
        )
        self._http = httpx.AsyncClient(follow_redirects=False)
        sessions = make_sessionmaker(engine)
        owner = alerts.client_id
        self.outbox = OutboxPublisher(
            engine=engine,
            sessions=sessions,
            influx=self._influx,
            settings=alerts,
            owner=owner,
            logger=self._log,
        )
        self.webhooks = WebhookSender(
            engine=engine,
            sessions=sessions,
            settings=alerts,
            owner=owner,
            http=self._http,
            allow_networks=settings.webhook_allow(),
            logger=self._log,
        )
        self.ready = asyncio.Event()  # set once the first MQTT connection is up

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._mqtt is not None:
            await self._mqtt.disconnect()
        await self._http.aclose()
        await self._influx.aclose()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._mqtt_loop(), name="alerts-mqtt")
            tg.create_task(self._outbox_loop(), name="alerts-outbox")
            tg.create_task(self._webhook_loop(), name="alerts-webhooks")
            tg.create_task(self._stats_loop(), name="alerts-stats")
            if self._alerts.retention_days is not None:
                tg.create_task(self._prune_loop(self._alerts.retention_days), name="alerts-prune")

    async def _mqtt_loop(self) -> None:
        m = self._settings.mqtt
        backoff = Backoff(self._alerts.mqtt_retry)
        while True:
            client = MqttClient(
                host=m.host,
                port=m.port,
                client_id=self._alerts.client_id,
                username=m.username,
                password=m.password,
                tls=m.tls(),
                logger=self._log,
            )
            try:
                await client.connect()
            except asyncio.CancelledError:
                # Stopped mid-connect: close what connect() had opened (socket, keepalive task).
                with contextlib.suppress(Exception):
                    await asyncio.shield(client.disconnect())
                raise
            except MqttError as exc:
                delay = backoff.next_delay()
                self._log.warning("MQTT: %s; retrying in %.1f s", exc, delay)
                await backoff.sleep(delay)
                continue
            backoff.reset()
            self._mqtt = client
            self.ready.set()
            self._log.info("MQTT connected to %s:%s as %s", m.host, m.port, m.username)
            reason = await client.wait_closed()
            self._mqtt = None
            self._log.warning("MQTT connection lost: %s", reason)

    async def _outbox_loop(self) -> None:
        while True:
            try:
                claimed, finished = await self.outbox.run_once(self._mqtt)
            except Exception:
                # The database went away mid-round: leases expire, the round is redone.
                self._log.exception("outbox round failed")
                claimed = finished = 0
            if claimed == 0 or finished < claimed:
                await asyncio.sleep(self._alerts.poll_interval)

    async def _webhook_loop(self) -> None:
        while True:
            try:
                attempted = await self.webhooks.run_once()
            except Exception:
                self._log.exception("webhook round failed")
                attempted = 0
            if not attempted:
                await asyncio.sleep(self._alerts.poll_interval)

    async def _prune_loop(self, days: float) -> None:
        while True:
            before = utcnow() - timedelta(days=days)
            try:
                rows, deliveries = await asyncio.to_thread(prune, self._engine, before=before)
            except Exception:
                self._log.exception("pruning old alert rows failed")
            else:
                if rows:
                    self._log.info(
                        "pruned %s outbox rows and %s deliveries older than %s days",
                        rows,
                        deliveries,
                        days,
                    )
            await asyncio.sleep(PRUNE_INTERVAL)

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self._alerts.stats_interval)
            o, w = self.outbox.stats, self.webhooks.stats
            self._log.info(
                "outbox: %s done, %s published, %s points, %s deliveries queued, "
                "%s publish failures; webhooks: %s delivered, %s failed attempts, %s dead",
                o.done,
                o.published,
                o.points,
                o.deliveries_added,
                o.publish_failures,
                w.delivered,
                w.failed_attempts,
                w.dead,
            )


async def run_alerts(settings: CloudSettings, alerts: AlertSettings) -> None:
    """Run until SIGINT/SIGTERM."""
    engine = make_engine(settings.registry_url)
    try:
        require_schema(engine)
    except OperationalError as exc:
        engine.dispose()
        msg = f"registry database unreachable ({settings.registry_url}): {exc.orig}"
        raise AlertsError(msg) from exc
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    LOGGER.info(
        "alert sender %s: registry %s, InfluxDB %s/%s, MQTT %s:%s",
        alerts.client_id,
        engine.url.render_as_string(hide_password=True),
        settings.influx_url,
        settings.influx_db,
        settings.mqtt.host,
        settings.mqtt.port,
    )
    try:
        async with AlertService(settings, alerts, engine=engine) as service:
            task = asyncio.create_task(service.run(), name="alerts")
            stopper = asyncio.create_task(stop.wait(), name="alerts-stop")
            done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for t in (task, stopper):
                t.cancel()
            for t in (task, stopper):
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            if task in done and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        LOGGER.info("alert sender stopped")
    finally:
        engine.dispose()
