"""The outbox stage: claim rows in order, fan out to webhooks, publish MQTT, store the point.

One round (``run_once``) takes a batch of leased rows through three stages; each stage stamps
the rows it finished, so a round that fails half-way (broker gone, InfluxDB down, the process
killed) redoes only what was not stamped:

1. fan-out: a ``webhook_deliveries`` row per matching subscription (idempotent);
2. MQTT: every alert at QoS 1, then the retained summary of each station touched; rows are
   stamped ``published_at`` only after their PUBACK came back with a success reason code;
3. InfluxDB: the ``warning_event`` points (same point on a retry: no double count).

A kill between a PUBACK and its stamp re-publishes that alert: delivery is at least once, and
subscribers drop repeats by ``event_id``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.alerts.claims import claim_outbox, release_outbox
from fuelwatch.cloud.alerts.messages import (
    alert_topic,
    dumps,
    station_summary,
    summary_topic,
    warning_event_line,
)
from fuelwatch.cloud.alerts.settings import AlertSettings
from fuelwatch.cloud.alerts.subscriptions import fan_out
from fuelwatch.cloud.store.influx import InfluxClient, InfluxUnavailableError, InfluxWriteError
from fuelwatch.cloud.store.models.alerts import AlertOutbox
from fuelwatch.cloud.store.models.warnings import Warning_, WarningEvent
from fuelwatch.cloud.warnings.outbox import render
from fuelwatch.core.mqtt import MqttClient, MqttError, PublishRejectedError
from fuelwatch.core.timeutil import utcnow

__all__ = ["OutboxPublisher", "OutboxStats"]

LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class OutboxStats:
    claimed: int = 0
    published: int = 0
    publish_failures: int = 0
    publish_refused: int = 0  # of which the broker answered with an error reason code
    last_refusal: str = ""
    summaries: int = 0
    points: int = 0
    influx_failures: int = 0
    deliveries_added: int = 0
    done: int = 0
    last_error: str = ""
    stations: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Item:
    row: AlertOutbox  # detached copy
    warning_id: int


class OutboxPublisher:
    def __init__(
        self,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        influx: InfluxClient,
        settings: AlertSettings,
        owner: str,
        logger: logging.Logger | None = None,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._influx = influx
        self._settings = settings
        self._owner = owner
        self._log = logger or LOGGER
        self.stats = OutboxStats()

    async def run_once(self, mqtt: MqttClient | None) -> tuple[int, int]:
        """One batch; returns (rows claimed, rows finished). ``mqtt`` None: broker away."""
        lease = timedelta(seconds=self._settings.lease_seconds)
        ids = await asyncio.to_thread(
            claim_outbox,
            self._engine,
            owner=self._owner,
            limit=self._settings.batch_size,
            lease=lease,
            now=utcnow(),
        )
        if not ids:
            return 0, 0
        self.stats.claimed += len(ids)
        added = await asyncio.to_thread(self._fan_out, ids)
        self.stats.deliveries_added += added
        items = await asyncio.to_thread(self._load, ids)
        if mqtt is not None and mqtt.is_connected:
            await self._publish([i for i in items if i.row.published_at is None], mqtt)
        await self._store([i for i in items if i.row.stored_at is None])
        finished = await asyncio.to_thread(self._finish, ids)
        self.stats.done += finished
        return len(ids), finished

    # -- stages --------------------------------------------------------------------------------

    def _fan_out(self, ids: list[int]) -> int:
        with self._sessions.begin() as session:
            rows = list(session.scalars(select(AlertOutbox).where(AlertOutbox.id.in_(ids))))
            return fan_out(session, rows, now=utcnow())

    def _load(self, ids: list[int]) -> list[_Item]:
        with self._sessions() as session:
            result = session.execute(
                select(AlertOutbox, WarningEvent.warning_id)
                .join(WarningEvent, WarningEvent.id == AlertOutbox.event_id)
                .where(AlertOutbox.id.in_(ids))
                .order_by(AlertOutbox.id)
            )
            items = [_Item(row, warning_id) for row, warning_id in result]
            session.expunge_all()
        return items

    async def _publish(self, items: list[_Item], mqtt: MqttClient) -> None:
        if not items:
            return
        prefix = self._settings.topic_prefix
        # All sent before any PUBACK is awaited: in order on the wire, one round trip.
        futures = [
            mqtt.publish_nowait(
                alert_topic(prefix, i.row), dumps(render(i.row, i.warning_id)), qos=1
            )
            for i in items
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
        acked: list[_Item] = []
        failed: list[tuple[_Item, BaseException]] = []
        for item, result in zip(items, results, strict=True):
            if isinstance(result, BaseException):
                failed.append((item, result))
            else:
                acked.append(item)
        if failed:
            refused = [e for _, e in failed if isinstance(e, PublishRejectedError)]
            if refused:
                self.stats.publish_refused += len(refused)
                self.stats.last_refusal = str(refused[-1])
            first, error = failed[0]
            self.stats.publish_failures += len(failed)
            self.stats.last_error = str(error)
            self._log.warning(
                "%s alerts not published, will retry (first: event %s on %s: %s)",
                len(failed),
                first.row.event_id,
                alert_topic(prefix, first.row),
                error,
            )
        if not acked:
            return
        # The summary goes before the stamps: a crash here re-publishes both, never neither.
        stations = sorted({(i.row.district_id, i.row.station_id) for i in acked})
        try:
            await self._publish_summaries(stations, mqtt)
        except MqttError as exc:
            self.stats.last_error = str(exc)
            self._log.warning("station summaries not published: %s", exc)
            return
        await asyncio.to_thread(self._stamp, [i.row.id for i in acked], "published_at")
        self.stats.published += len(acked)

    async def _publish_summaries(self, stations: list[tuple[str, str]], mqtt: MqttClient) -> None:
        summaries = await asyncio.to_thread(self._summaries, stations)
        prefix = self._settings.topic_prefix
        futures = [
            mqtt.publish_nowait(summary_topic(prefix, d, s), dumps(body), qos=1, retain=True)
            for (d, s), body in summaries.items()
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        self.stats.summaries += len(futures)
        self.stats.stations.update(stations)

    def _summaries(
        self, stations: list[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, object]]:
        out: dict[tuple[str, str], dict[str, object]] = {}
        cleared = Warning_.cleared_at.is_not(None)
        with self._sessions() as session:
            for district, station in stations:
                groups = session.execute(
                    select(Warning_.category, Warning_.severity, cleared, func.count())
                    .where(Warning_.station_id == station, Warning_.state != "closed")
                    .group_by(Warning_.category, Warning_.severity, cleared)
                )
                out[(district, station)] = station_summary(
                    district,
                    station,
                    [(c, s, bool(x), int(n)) for c, s, x, n in groups],
                    at=utcnow(),
                )
        return out

    async def _store(self, items: list[_Item]) -> None:
        if not items:
            return
        lines = [line for i in items if (line := warning_event_line(i.row, i.warning_id))]
        ids = [i.row.id for i in items]
        if lines:
            try:
                await self._influx.write("\n".join(lines).encode(), precision="ns")
            except InfluxUnavailableError as exc:
                self.stats.influx_failures += 1
                self.stats.last_error = str(exc)
                self._log.warning("warning_event points not written, will retry: %s", exc)
                return
            except InfluxWriteError as exc:
                # Our own points refused: retrying cannot help; say so on the rows and go on.
                self.stats.influx_failures += 1
                self._log.error("InfluxDB refused warning_event points: %s", exc)
                await asyncio.to_thread(self._note_error, ids, str(exc))
            else:
                self.stats.points += len(lines)
        await asyncio.to_thread(self._stamp, ids, "stored_at")

    # -- bookkeeping ---------------------------------------------------------------------------

    def _stamp(self, ids: list[int], column: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(AlertOutbox).where(AlertOutbox.id.in_(ids)).values({column: utcnow()})
            )

    def _note_error(self, ids: list[int], error: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(AlertOutbox).where(AlertOutbox.id.in_(ids)).values(last_error=error[:4000])
            )

    def _finish(self, ids: list[int]) -> int:
        """Mark rows whose three stages are stamped done; hand the rest back for a retry."""
        with self._engine.begin() as conn:
            finished = conn.execute(
                update(AlertOutbox)
                .where(
                    AlertOutbox.id.in_(ids),
                    AlertOutbox.fanned_out_at.is_not(None),
                    AlertOutbox.published_at.is_not(None),
                    AlertOutbox.stored_at.is_not(None),
                )
                .values(done=True, lease_owner=None, lease_until=None)
            ).rowcount
        release_outbox(self._engine, ids, owner=self._owner)
        return int(finished or 0)
