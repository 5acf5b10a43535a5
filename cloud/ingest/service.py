"""The ingest worker: shared subscription in, InfluxDB out, acknowledgement last.

Messages are acknowledged to the broker only after their points (or their rejection record)
are stored and their sequence numbers committed, so a worker killed at any moment loses
nothing: the broker re-sends what was not acknowledged (with DUP set) to the worker's
persistent session. Then each gateway is told, on its own confirmation topic, which envelopes
are durably handled (``acks``): only then does it let go of their records, so a message the
broker loses after its PUBACK is sent again. A copy of an envelope whose sequence number is
already committed is a ``duplicate``: confirmed again, not stored again.

Several workers share ``$share/<group>/fuel/v1/+/+/+/+``; the broker splits messages between
them and their sequence bookkeeping meets in the registry database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, IntegrityError

from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.ingest.acks import AckBook
from fuelwatch.cloud.ingest.checks import Accepted, Checked, Checker, Rejected
from fuelwatch.cloud.ingest.evidence import RejectionLines, tell_streaming
from fuelwatch.cloud.ingest.keys import KeyStore
from fuelwatch.cloud.ingest.plausibility import Limits, record_problem
from fuelwatch.cloud.ingest.sequence import SequenceStore, SeqWindow
from fuelwatch.cloud.ingest.shedding import Shedder
from fuelwatch.cloud.ingest.stats import IngestStats, RateLimitedLog, StatsCollector
from fuelwatch.cloud.ingest.streaming import StreamingChecker
from fuelwatch.cloud.ingest.writer import GroupWriter
from fuelwatch.cloud.store.aggregates import AGGREGATE_KINDS, ensure_aggregates
from fuelwatch.cloud.store.aggregates_refresh import LateDataRefresher
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError
from fuelwatch.cloud.store.lineproto import record_line, write_line
from fuelwatch.core.mqtt import Message, MqttClient, MqttConnectError, MqttError
from fuelwatch.core.retry import Backoff, BoundedRetrySettings, retrying
from fuelwatch.core.wire import ingest_filter

__all__ = ["IngestService", "IngestStats", "StatsCollector"]

#: Committing sequence numbers can collide with another worker's commit: a few quick tries.
SEQUENCE_COMMIT_RETRY = BoundedRetrySettings(base=0.05, factor=2.0, cap=0.4, max_attempts=5)

LOGGER = logging.getLogger("fuelwatch.cloud.ingest")
#: Refusals that a registry reload may turn around (a key registered a moment ago).
RELOAD_REASONS = frozenset({"unknown_gateway", "unknown_key"})


@dataclass(slots=True)
class _InFlight:
    """A received message and whether its flush has finished (acks go out in order)."""

    msg: Message
    done: bool = False


class IngestService:
    def __init__(
        self,
        settings: CloudSettings,
        *,
        influx: InfluxClient,
        keys: KeyStore,
        sequences: SequenceStore,
        streaming: StreamingChecker | None = None,
        refresher: LateDataRefresher | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.settings = settings
        self.log = logger or LOGGER
        self.influx = influx
        self.keys = keys
        self.sequences = sequences
        self.streaming = streaming
        self.refresher = refresher
        self.checker = Checker(
            keys,
            max_sent_age_days=settings.ingest_max_sent_age_days,
            limits=Limits(
                future_ms=int(settings.ingest_future_skew * 1000),
                before_registration_ms=int(settings.ingest_before_registration_days * 86_400_000),
            ),
        )
        self.writer = GroupWriter(influx, retry=settings.ingest_influx_retry, logger=self.log)
        self.stats = IngestStats()
        self.acks = AckBook(grace=settings.ingest_gap_grace)
        self.shedder = Shedder(
            evidence_rate=settings.ingest_evidence_rate,
            evidence_burst=settings.ingest_evidence_burst,
            bad_signature_rate=settings.ingest_bad_signature_rate,
            bad_signature_burst=settings.ingest_bad_signature_burst,
            log=self.log,
        )
        self._evidence = RejectionLines(settings.ingest_client_id)
        self._inbox: list[_InFlight] = []
        self._unacked: deque[_InFlight] = deque()
        self._wake = asyncio.Event()
        self._client: MqttClient | None = None
        self._rejection_log = RateLimitedLog(self.log)
        self.ready = asyncio.Event()

    @property
    def pending(self) -> int:
        """Messages received and not yet flushed."""
        return len(self._inbox)

    @property
    def unacked(self) -> int:
        """Messages received and not yet acknowledged to the broker."""
        return len(self._unacked)

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        await self._wait_for_influx()
        await self.keys.reload()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._connection_loop(), name="ingest-mqtt")
            tg.create_task(self._flush_loop(), name="ingest-flush")
            tg.create_task(self._stats_loop(), name="ingest-stats")
            tg.create_task(self._ack_loop(), name="ingest-acks")
            if self.streaming is not None:
                tg.create_task(self.streaming.run(), name="ingest-streaming")
            if self.refresher is not None:
                tg.create_task(self.refresher.run(), name="ingest-aggregates-refresh")

    async def _wait_for_influx(self) -> None:
        backoff = Backoff(self.settings.ingest_influx_retry)

        async def ready() -> str:
            version = await self.influx.ping()
            await self.influx.create_database()
            return version

        def note(exc: Exception, _delay: float) -> None:
            if backoff.failures == 1:
                self.log.error("waiting for InfluxDB at %s: %s", self.influx.url, exc)

        version = await retrying(ready, backoff=backoff, retry_on=InfluxError, on_retry=note)
        self.log.info(
            "InfluxDB %s at %s, database %s", version, self.influx.url, self.influx.database
        )
        if self.settings.influx_aggregates:
            try:
                await ensure_aggregates(self.influx)
            except InfluxError as exc:
                # dashboards lose their aggregates, not data: say so and go on ingesting
                self.log.error("cannot set up InfluxDB aggregates (CQs): %s", exc)

    async def _connection_loop(self) -> None:
        s = self.settings
        backoff = Backoff(s.ingest_mqtt_retry)
        reported = False  # the first failure of an outage is an error, the rest are details
        while True:
            client = MqttClient(
                host=s.mqtt.host,
                port=s.mqtt.port,
                client_id=s.ingest_client_id,
                username=s.mqtt.username,
                password=s.mqtt.password,
                tls=s.mqtt.tls(),
                clean_start=False,
                session_expiry=s.ingest_session_expiry,
                receive_maximum=s.ingest_receive_maximum,
                manual_ack=True,
                on_message=self._receive,
                logger=self.log,
            )
            try:
                await client.connect()
                # Retained status messages are history ingest has stored already: not again.
                await client.subscribe(
                    [(ingest_filter(s.ingest_group, s.ingest_district), 1)], retain_handling=2
                )
            except (MqttConnectError, MqttError, TimeoutError) as exc:
                self.log.log(
                    logging.DEBUG if reported else logging.ERROR,
                    "ingest cannot subscribe at %s:%d: %s",
                    s.mqtt.host,
                    s.mqtt.port,
                    exc,
                )
                reported = True
                await client.disconnect()
                await backoff.wait()
                continue
            backoff.reset()
            reported = False
            self._client = client
            self.ready.set()
            self.log.info(
                "ingest %s subscribed to %s",
                s.ingest_client_id,
                ingest_filter(s.ingest_group, s.ingest_district),
            )
            reason = await client.wait_closed()
            self.ready.clear()
            self.log.warning("ingest lost the broker: %s", reason)
            # Workers that lost the same broker do not all come back in the same instant.
            await backoff.wait()

    def _receive(self, msg: Message) -> None:
        self.stats.received += 1
        entry = _InFlight(msg)
        self._inbox.append(entry)
        self._unacked.append(entry)
        if len(self._inbox) >= self.settings.ingest_flush_messages:
            self._wake.set()

    async def _flush_loop(self) -> None:
        """Cut the inbox into flushes; up to ``ingest_parallel_flushes`` run at once.

        While one flush waits for InfluxDB, the next one parses, verifies and formats, so the
        worker's CPU work overlaps InfluxDB's. Acknowledgements still go out in the order the
        messages arrived (MQTT 5 section 4.6), through ``_release_acks``.
        """
        interval = self.settings.ingest_flush_interval
        slots = asyncio.Semaphore(self.settings.ingest_parallel_flushes)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                if not self._inbox:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), interval)
                    except TimeoutError:
                        pass
                if not self._inbox:
                    continue
                await slots.acquire()
                for task in [t for t in running if t.done()]:
                    task.result()  # a flush that failed on a bug stops the worker, loudly
                batch, self._inbox = self._inbox, []
                task = asyncio.create_task(self._timed_flush(batch, slots), name="ingest-flush")
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()

    async def _timed_flush(self, batch: list[_InFlight], slots: asyncio.Semaphore) -> None:
        try:
            started = time.perf_counter()
            await self.flush([entry.msg for entry in batch])
            for entry in batch:
                entry.done = True
            self._release_acks()
            self.stats.flushes += 1
            self.stats.last_flush_ms = (time.perf_counter() - started) * 1000
        finally:
            slots.release()

    def _release_acks(self) -> None:
        """Acknowledge, in arrival order, every message whose flush has finished."""
        while self._unacked and self._unacked[0].done:
            self._unacked.popleft().msg.ack()

    # -- one flush -----------------------------------------------------------------------------

    async def flush(self, batch: list[Message]) -> None:
        """Check, store and commit one batch; then confirm to the gateways."""
        # refresh before checking: a key revoked ``refresh`` seconds ago must not pass
        await self.keys.maybe_reload()
        pre = [self.checker.pre(msg) for msg in batch]
        if any(isinstance(r, Rejected) and r.reason in RELOAD_REASONS for r in pre):
            await self.keys.maybe_reload(force=True)
            pre = [
                self.checker.pre(r.msg)
                if isinstance(r, Rejected) and r.reason in RELOAD_REASONS
                else r
                for r in pre
            ]
        windows = await asyncio.to_thread(
            self.sequences.windows, {c.head.gw for c in pre if isinstance(c, Checked)}
        )
        accepted: list[Accepted] = []
        rejected: list[Rejected] = []
        in_flush: set[tuple[str, int]] = set()
        replays: dict[str, int] = defaultdict(int)
        duplicates = 0
        for c in pre:
            if isinstance(c, Rejected):
                rejected.append(c)
                continue
            key = (c.head.gw, c.head.seq)
            window = windows.get(c.head.gw)
            self.acks.first_seen(c.info, window)
            if key in in_flush or (window is not None and window.seen(c.head.seq)):
                # A copy of an envelope already handled: the signature covers the sequence
                # number, so a genuine copy is the same envelope. Confirm again, store nothing.
                duplicates += 1
                if not (c.msg.dup or c.msg.retain):
                    replays[c.head.gw] += 1
                self.acks.confirm(c.info, c.head.seq)
                continue
            if not self.shedder.may_verify(c.topic.station):
                self.stats.shed["unverified"] += 1
                continue
            r = self.checker.finish(c)
            if isinstance(r, Rejected):
                if r.reason == "bad_signature":
                    self.shedder.bad_signature(c.topic.station)
                rejected.append(r)
                if r.verified:
                    in_flush.add(key)
                continue
            in_flush.add(key)
            accepted.append(r)

        implausible = self._split_implausible(accepted)
        groups = [
            [
                record_line(
                    rec,
                    district=a.topic.district,
                    station=a.topic.station,
                    device=a.topic.device,
                    gateway=a.head.gw,
                )
                for rec in a.records
            ]
            for a in accepted
        ]
        refused = await self.writer.write(groups)
        if refused:
            keep = []
            for i, a in enumerate(accepted):
                if i in refused:
                    rejected.append(
                        Rejected(a.msg, "store_rejected", refused[i], a.topic, a.head, a.info)
                    )
                else:
                    keep.append(a)
            accepted = keep
        rejected += [r for r, _ in implausible]
        samples = await self._write_evidence(rejected, implausible)

        committed: dict[str, list[int]] = defaultdict(list)
        for a in accepted:
            committed[a.head.gw].append(a.head.seq)
            self.acks.confirm(a.info, a.head.seq)
        for r in rejected:
            if r.info is not None and r.head is not None:
                committed[r.head.gw].append(r.head.seq)
                rids = next((tuple(ids) for x, ids in implausible if x is r), ())
                self.acks.refuse(r.info, r.head.seq, r.reason, rids)
        after = await self._commit_sequences(committed, replays)
        infos = {a.info.gateway: a.info for a in accepted} | {
            r.info.gateway: r.info for r in rejected if r.info is not None
        }
        for gw, window in after.items():
            if gw in infos:
                self.acks.note_window(infos[gw], window)
        self._send_acks()

        stored_at = time.time_ns() // 1_000_000
        if self.streaming is not None:
            tell_streaming(self.streaming, accepted, rejected, samples, stored_at)
        if self.refresher is not None:
            for a in accepted:
                if a.records and a.topic.kind.value in AGGREGATE_KINDS:
                    times = [rec.ts for rec in a.records]
                    self.refresher.note(a.topic.kind.value, min(times), max(times), stored_at)
        self.stats.latencies.extend((stored_at - a.head.sent, len(a.records)) for a in accepted)
        self.stats.accepted_messages += len(accepted)
        self.stats.accepted_records += sum(len(a.records) for a in accepted)
        self.stats.duplicates += duplicates
        self.stats.resent += sum(replays.values())
        for r in rejected:
            self.stats.rejected[r.reason] += 1
            gw = r.head.gw if r.head else "?"
            self._rejection_log.warn(
                r.reason,
                "rejected message on %s from %s: %s: %s",
                r.msg.topic[:200],
                gw,
                r.reason,
                r.detail[:300],
            )
        self.shedder.summarize()

    def _split_implausible(self, accepted: list[Accepted]) -> list[tuple[Rejected, list[int]]]:
        """Take implausible records out of their envelopes; one rejection per envelope."""
        now = time.time_ns() // 1_000_000
        limits = self.checker.limits
        out: list[tuple[Rejected, list[int]]] = []
        for a in accepted:
            bad: list[tuple[int, str]] = []
            for rec in a.records:
                problem = record_problem(
                    rec,
                    now_ms=now,
                    registered_ms=a.info.registered_ms,
                    tank_heights=a.info.tank_heights,
                    limits=limits,
                )
                if problem is not None:
                    bad.append((rec.rid, problem))
            if not bad:
                continue
            rids = {rid for rid, _ in bad}
            a.records = [rec for rec in a.records if rec.rid not in rids]
            self.stats.implausible_records += len(bad)
            detail = "; ".join(f"rid {rid}: {problem}" for rid, problem in bad[:20])
            if len(bad) > 20:
                detail += f"; and {len(bad) - 20} more"
            out.append(
                (Rejected(a.msg, "implausible", detail, a.topic, a.head, a.info), sorted(rids))
            )
        return out

    async def _write_evidence(
        self, rejected: list[Rejected], implausible: list[tuple[Rejected, list[int]]]
    ) -> list[int | None]:
        """Rejection rows, within each station's evidence budget; the rest is counted shed.

        A verified refusal always gets its row: its gateway is told to let go of the records.
        """
        counts = {id(r): len(rids) for r, rids in implausible}
        lines: list[tuple[int, str, int]] = []
        for i, r in enumerate(rejected):
            station = r.topic.station if r.topic else None
            if r.verified or self.shedder.evidence(station, r.reason):
                line, ts = self._evidence.line(r, records=counts.get(id(r)))
                lines.append((i, line, ts))
            else:
                self.stats.shed[r.reason] += 1
        samples: list[int | None] = [None] * len(rejected)
        if lines:
            leftover = await self.writer.write([[line] for _, line, _ in lines])
            for k, (i, _, ts) in enumerate(lines):
                if k in leftover:
                    self.log.error("cannot store rejection record: %s", leftover[k])
                else:
                    samples[i] = ts
        return samples

    def _send_acks(self) -> None:
        client = self._client
        for topic, payload, resend in self.acks.take():
            if client is None or not client.is_connected:
                return  # the gateways resend; this worker confirms them then
            fut = client.publish_nowait(topic, payload, qos=1)
            fut.add_done_callback(self._ack_settled)
            self.stats.confirmations += 1
            self.stats.resend_requests += resend

    def _ack_settled(self, fut: asyncio.Future[int]) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            self._rejection_log.warn(
                "confirmation", "cannot publish a confirmation: %s", fut.exception()
            )

    async def _ack_loop(self) -> None:
        """Resend requests for gaps that stay open without new traffic to carry them."""
        while True:
            await asyncio.sleep(1.0)
            self._send_acks()

    async def _commit_sequences(
        self, committed: dict[str, list[int]], replays: dict[str, int]
    ) -> dict[str, SeqWindow]:
        try:
            return await retrying(
                lambda: asyncio.to_thread(self.sequences.commit, dict(committed), dict(replays)),
                backoff=Backoff(SEQUENCE_COMMIT_RETRY),
                retry_on=(IntegrityError, DBAPIError),
            )
        except (IntegrityError, DBAPIError) as exc:
            # The points are stored; only replay bookkeeping is behind. Say so loudly.
            self.log.error(
                "cannot record sequence numbers after %d tries: %s",
                SEQUENCE_COMMIT_RETRY.max_attempts,
                exc,
            )
            return {}

    async def _stats_loop(self) -> None:
        last = (0, 0)
        interval = self.settings.ingest_stats_interval
        while True:
            await asyncio.sleep(interval)
            s = self.stats
            fields = (
                s.as_fields()
                | s.latency_percentiles()
                | {
                    "pending": self.pending,
                    "influx_retries": self.writer.retries,
                }
                | (self.streaming.stats.as_fields() if self.streaming else {})
            )
            line = write_line(
                "ingest_stats", {"worker": self.settings.ingest_client_id}, fields, time.time_ns()
            )
            try:
                await self.influx.write(line.encode())
            except InfluxError as exc:
                self.log.debug("cannot write ingest stats: %s", exc)
            rate = (s.accepted_records - last[1]) / interval
            if s.received != last[0]:
                self.log.info(
                    "ingest: %d msg received, %d records stored (%.0f/s), %d rejected, "
                    "%d duplicate(s)",
                    s.received,
                    s.accepted_records,
                    rate,
                    sum(s.rejected.values()),
                    s.duplicates,
                )
            last = (s.received, s.accepted_records)
