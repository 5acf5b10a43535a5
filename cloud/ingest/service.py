"""The ingest worker: shared subscription in, InfluxDB out, acknowledgement last.

Messages are acknowledged to the broker only after their points (or their rejection record)
are stored and their sequence numbers committed, so a worker killed at any moment loses
nothing: the broker re-sends what was not acknowledged (with DUP set) to the worker's
persistent session. A re-sent message whose sequence number is already committed is a
``duplicate`` (counted, not stored again); the same without DUP is a ``replayed`` rejection.

Several workers share ``$share/<group>/fuel/v1/+/+/+/+``; the broker splits messages between
them and their sequence bookkeeping meets in the registry database.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.exc import DBAPIError, IntegrityError

from cloud.aggregates import AGGREGATE_KINDS, ensure_aggregates
from cloud.aggregates_refresh import LateDataRefresher
from cloud.influx import InfluxClient, InfluxError
from cloud.ingest.checks import Accepted, Checker, Rejected
from cloud.ingest.keys import KeyStore
from cloud.ingest.lineproto import record_line, write_line
from cloud.ingest.sequence import SequenceStore
from cloud.ingest.writer import GroupWriter
from cloud.settings import CloudSettings
from cloud.streaming import DEVICE_CLOCK_KINDS, AcceptedSeen, RejectedSeen, StreamingChecker
from fuelwatch.mqtt import Message, MqttClient, MqttConnectError, MqttError
from fuelwatch.records import GatewayStatusRecord
from fuelwatch.wire import ingest_filter

__all__ = ["IngestService", "IngestStats", "StatsCollector"]

LOGGER = logging.getLogger("cloud.ingest")
PAYLOAD_KEEP = 48 * 1024  # bytes of a rejected payload kept as evidence (field limit is 64 KiB)


@dataclass(slots=True)
class IngestStats:
    received: int = 0
    accepted_messages: int = 0
    accepted_records: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    flushes: int = 0
    last_flush_ms: float = 0.0
    # (sent -> stored latency ms, records) since the last stats report
    latencies: list[tuple[int, int]] = field(default_factory=list)

    def latency_percentiles(self) -> dict[str, float]:
        """Record-weighted publish->stored latency percentiles since the last call."""
        samples, self.latencies = sorted(self.latencies), []
        total = sum(n for _, n in samples)
        out: dict[str, float] = {}
        if not total:
            return out
        for name, q in (("latency_p50_ms", 0.50), ("latency_p99_ms", 0.99)):
            target, seen = q * total, 0
            for value, n in samples:
                seen += n
                if seen >= target:
                    out[name] = float(value)
                    break
        out["latency_max_ms"] = float(samples[-1][0])
        return out

    def as_fields(self) -> dict[str, int | float]:
        out: dict[str, int | float] = {
            "received": self.received,
            "accepted_messages": self.accepted_messages,
            "accepted_records": self.accepted_records,
            "duplicates": self.duplicates,
            "rejected": sum(self.rejected.values()),
            "flushes": self.flushes,
        }
        out |= {f"rejected_{k}": v for k, v in self.rejected.items()}
        return out


@dataclass(slots=True)
class _InFlight:
    """A received message and whether its flush has finished (acks go out in order)."""

    msg: Message
    done: bool = False


class StatsCollector:
    """Prometheus view of a running ingest service's counters (read at scrape time)."""

    def __init__(self, service: IngestService) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        s = self._service.stats
        for name, value, help_text in (
            ("received", s.received, "MQTT messages received"),
            ("accepted_messages", s.accepted_messages, "messages stored"),
            ("accepted_records", s.accepted_records, "records stored"),
            ("duplicates", s.duplicates, "re-sent messages already stored"),
            ("flushes", s.flushes, "flushes to InfluxDB"),
            ("influx_retries", self._service.writer.retries, "InfluxDB write retries"),
        ):
            yield CounterMetricFamily(f"fuelwatch_ingest_{name}", help_text, value=value)
        rejected = CounterMetricFamily(
            "fuelwatch_ingest_rejected", "messages rejected, by reason", labels=["reason"]
        )
        for reason, n in sorted(s.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        streaming = self._service.streaming
        if streaming is not None:
            st = streaming.stats
            for name, value, help_text in (
                ("events", st.events, "events handed to the streaming checker"),
                ("overflow", st.overflow, "events not checked: the checker's queue was full"),
                ("raised", st.raised, "warning updates written by streaming checks"),
                ("cleared", st.cleared, "warnings cleared by streaming checks"),
                ("tick_errors", st.tick_errors, "streaming checker rounds that failed"),
            ):
                yield CounterMetricFamily(f"fuelwatch_streaming_{name}", help_text, value=value)
            yield GaugeMetricFamily(
                "fuelwatch_streaming_queued",
                "events waiting for the checker",
                value=streaming.queued,
            )
        yield GaugeMetricFamily(
            "fuelwatch_ingest_pending",
            "messages waiting for a flush",
            value=self._service.pending,
        )
        yield GaugeMetricFamily(
            "fuelwatch_ingest_last_flush_ms", "duration of the last flush", value=s.last_flush_ms
        )
        yield GaugeMetricFamily(
            "fuelwatch_ingest_ready",
            "1 while subscribed",
            value=float(self._service.ready.is_set()),
        )


class _RateLimitedLog:
    """At most ``burst`` lines per reason per window; the rest are summed up later."""

    def __init__(self, log: logging.Logger, burst: int = 10, window: float = 10.0) -> None:
        self._log, self._burst, self._window = log, burst, window
        self._count: Counter[str] = Counter()
        self._since = time.monotonic()

    def warn(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._since > self._window:
            for k, n in self._count.items():
                if n > self._burst:
                    self._log.warning(
                        "... %d more '%s' rejection(s) not logged", n - self._burst, k
                    )
            self._count.clear()
            self._since = now
        self._count[key] += 1
        if self._count[key] <= self._burst:
            self._log.warning(msg, *args)


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
        self.checker = Checker(keys, max_sent_age_days=settings.ingest_max_sent_age_days)
        self.writer = GroupWriter(influx, logger=self.log)
        self.stats = IngestStats()
        self._inbox: list[_InFlight] = []
        self._unacked: deque[_InFlight] = deque()
        self._wake = asyncio.Event()
        self._client: MqttClient | None = None
        self._last_rejected_ns = 0
        self._rejection_log = _RateLimitedLog(self.log)
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
            if self.streaming is not None:
                tg.create_task(self.streaming.run(), name="ingest-streaming")
            if self.refresher is not None:
                tg.create_task(self.refresher.run(), name="ingest-aggregates-refresh")

    async def _wait_for_influx(self) -> None:
        attempt = 0
        while True:
            try:
                version = await self.influx.ping()
                await self.influx.create_database()
            except InfluxError as exc:
                attempt += 1
                if attempt == 1:
                    self.log.error("waiting for InfluxDB at %s: %s", self.influx.url, exc)
                await asyncio.sleep(min(10.0, 0.5 * attempt))
                continue
            self.log.info(
                "InfluxDB %s at %s, database %s", version, self.influx.url, self.influx.database
            )
            if self.settings.influx_aggregates:
                try:
                    await ensure_aggregates(self.influx)
                except InfluxError as exc:
                    # dashboards lose their aggregates, not data: say so and go on ingesting
                    self.log.error("cannot set up InfluxDB aggregates (CQs): %s", exc)
            return

    async def _connection_loop(self) -> None:
        s = self.settings
        attempt = 0
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
                attempt += 1
                self.log.log(
                    logging.ERROR if attempt == 1 else logging.DEBUG,
                    "ingest cannot subscribe at %s:%d: %s",
                    s.mqtt.host,
                    s.mqtt.port,
                    exc,
                )
                await client.disconnect()
                await asyncio.sleep(random.uniform(0.2, min(30.0, 1.5 ** min(10, attempt))))
                continue
            attempt = 0
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
            await asyncio.sleep(random.uniform(0.2, 1.0))

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
        results = [self.checker.check(msg) for msg in batch]
        if any(
            isinstance(r, Rejected) and r.reason in ("unknown_gateway", "unknown_key")
            for r in results
        ):
            await self.keys.maybe_reload(force=True)
            results = [
                r
                if isinstance(r, Accepted) or r.reason not in ("unknown_gateway", "unknown_key")
                else self.checker.check(r.msg)
                for r in results
            ]
        else:
            await self.keys.maybe_reload()

        accepted: list[Accepted] = []
        rejected: list[Rejected] = []
        duplicates = 0
        windows = await asyncio.to_thread(
            self.sequences.windows, {r.head.gw for r in results if isinstance(r, Accepted)}
        )
        in_flush: set[tuple[str, int]] = set()
        replays: dict[str, int] = defaultdict(int)
        for r in results:
            if isinstance(r, Rejected):
                rejected.append(r)
                continue
            key = (r.head.gw, r.head.seq)
            window = windows.get(r.head.gw)
            if key in in_flush or (window is not None and window.seen(r.head.seq)):
                if r.msg.dup or r.msg.retain:
                    # a broker re-send (DUP) or a retained message handed out again (RETAIN):
                    # not a replay by anyone, and already stored
                    duplicates += 1
                    continue
                replays[r.head.gw] += 1
                rejected.append(
                    Rejected(
                        r.msg,
                        "replayed",
                        f"sequence {r.head.seq} of {r.head.gw} was stored before",
                        r.topic,
                        r.head,
                    )
                )
                continue
            in_flush.add(key)
            accepted.append(r)

        groups = [
            [
                record_line(
                    rec, district=a.topic.district, station=a.topic.station, device=a.topic.device
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
                    rejected.append(Rejected(a.msg, "store_rejected", refused[i], a.topic, a.head))
                else:
                    keep.append(a)
            accepted = keep
        samples: list[int | None] = []
        if rejected:
            lines = [self._rejection_line(r) for r in rejected]
            leftover = await self.writer.write([[line] for line, _ in lines])
            for i in leftover:
                self.log.error("cannot store rejection record: %s", leftover[i])
            samples = [None if i in leftover else ts for i, (_, ts) in enumerate(lines)]

        committed: dict[str, list[int]] = defaultdict(list)
        for a in accepted:
            committed[a.head.gw].append(a.head.seq)
        await self._commit_sequences(committed, replays)

        stored_at = time.time_ns() // 1_000_000
        if self.streaming is not None:
            self._tell_streaming(accepted, rejected, samples, stored_at)
        if self.refresher is not None:
            for a in accepted:
                if a.records and a.topic.kind.value in AGGREGATE_KINDS:
                    times = [rec.ts for rec in a.records]
                    self.refresher.note(a.topic.kind.value, min(times), max(times), stored_at)
        self.stats.latencies.extend((stored_at - a.head.sent, len(a.records)) for a in accepted)
        self.stats.accepted_messages += len(accepted)
        self.stats.accepted_records += sum(len(a.records) for a in accepted)
        self.stats.duplicates += duplicates
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

    async def _commit_sequences(
        self, committed: dict[str, list[int]], replays: dict[str, int]
    ) -> None:
        for attempt in range(5):
            try:
                await asyncio.to_thread(self.sequences.commit, dict(committed), dict(replays))
                return
            except (IntegrityError, DBAPIError) as exc:
                if attempt == 4:
                    # The points are stored; only replay bookkeeping is behind. Say so loudly.
                    self.log.error("cannot record sequence numbers after 5 tries: %s", exc)
                    return
                await asyncio.sleep(0.05 * (attempt + 1))

    def _tell_streaming(
        self,
        accepted: list[Accepted],
        rejected: list[Rejected],
        samples: list[int | None],
        now_ms: int,
    ) -> None:
        """Hand what this flush stored to the streaming checker (queue append only)."""
        assert self.streaming is not None
        for a in accepted:
            last = a.records[-1] if a.records else None
            status = last.state if isinstance(last, GatewayStatusRecord) else None
            kind = a.topic.kind.value
            lags = (
                [r.gts - r.ts for r in a.records if r.gts is not None]
                if kind in DEVICE_CLOCK_KINDS
                else []
            )
            self.streaming.notify(
                AcceptedSeen(
                    gw=a.head.gw,
                    district=a.topic.district,
                    station=a.topic.station,
                    seq=a.head.seq,
                    boot=a.head.boot,
                    sent_ms=a.head.sent,
                    received_ms=now_ms,
                    kind=kind,
                    redelivered=a.msg.dup or a.msg.retain,
                    status=status,
                    device=a.topic.device,
                    device_lag_ms=min(lags) if lags else None,
                )
            )
        for r, sample in zip(rejected, samples, strict=True):
            self.streaming.notify(
                RejectedSeen(
                    reason=r.reason,
                    topic=r.msg.topic[:1024],
                    district=r.topic.district if r.topic else None,
                    station=r.topic.station if r.topic else None,
                    gw=r.head.gw[:64] if r.head else None,
                    kid=r.head.kid[:64] if r.head else None,
                    seq=r.head.seq if r.head else None,
                    detail=r.detail[:300],
                    received_ms=now_ms,
                    sample_ns=sample,
                )
            )

    def _rejection_line(self, r: Rejected) -> tuple[str, int]:
        """The ``rejected`` point and its time (ns), by which a warning refers to it."""
        now = max(time.time_ns(), self._last_rejected_ns + 1)
        self._last_rejected_ns = now
        payload = r.msg.payload
        tags = {
            "reason": r.reason,
            "district": r.topic.district if r.topic else None,
            "station": r.topic.station if r.topic else None,
        }
        fields: dict[str, object] = {
            "topic": r.msg.topic[:1024],
            "detail": r.detail[:2048],
            "size": len(payload),
            "gw": r.head.gw[:64] if r.head else None,
            "seq": r.head.seq if r.head else None,
            "kid": r.head.kid[:64] if r.head else None,
            "payload": base64.b64encode(payload[:PAYLOAD_KEEP]).decode(),
            "truncated": len(payload) > PAYLOAD_KEEP,
            "worker": self.settings.ingest_client_id,
        }
        return write_line("rejected", tags, fields, now), now

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
