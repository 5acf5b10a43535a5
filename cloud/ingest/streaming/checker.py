"""The streaming checker: ingest hands it events; it decides and writes warnings off the
hot path.

``notify`` is all ingest calls, once per stored or refused message after the flush: it appends
to a bounded queue and returns. If the queue is full the event is counted
(``overflow``) and logged, never waited for — the telemetry itself is already stored, so only
the warning's counts are short, and the ``rejected`` measurement still has everything.

A task wakes every ``interval`` seconds, drains the queue and runs one tick in the checker's
own single thread: read the rule settings and the shared gateway state from the registry,
feed and evaluate the detectors, write the warnings. So a registry that is slow or locked
stalls the checker, not ingest (whose thread pool it does not use either). One tick writes at
most one update per warning: a flood of bad messages becomes one update per few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.common.settings import STREAMING_REGISTRY_RETRY
from fuelwatch.cloud.ingest.streaming.actions import Action, iso
from fuelwatch.cloud.ingest.streaming.events import AcceptedSeen, Event, RejectedSeen
from fuelwatch.cloud.ingest.streaming.gaps import GapDetector
from fuelwatch.cloud.ingest.streaming.presence import OfflineDetector, SilentDetector
from fuelwatch.cloud.ingest.streaming.registry import StreamingRegistry
from fuelwatch.cloud.ingest.streaming.rejections import RejectionDetector
from fuelwatch.cloud.ingest.streaming.rules import (
    AUTH_REASONS,
    CLOCK_SKEW,
    GATEWAY_OFFLINE,
    GATEWAY_SILENT,
    REJECTED_DATA,
    SEQUENCE_GAP,
    SIGNATURE_FAILURE,
    STREAMING_RULES,
    register_streaming_rules,
)
from fuelwatch.cloud.ingest.streaming.skew import SkewDetector
from fuelwatch.cloud.rules.store import RuleError
from fuelwatch.core.retry import Backoff, RetrySettings, retrying

__all__ = ["StreamingChecker", "StreamingStats"]

LOGGER = logging.getLogger("fuelwatch.cloud.ingest.streaming")
RECORD_EVERY_MS = 60_000  # how often the rules' "last evaluation" is written


@dataclass(slots=True)
class StreamingStats:
    events: int = 0
    overflow: int = 0  # events not queued because the queue was full
    ticks: int = 0
    tick_errors: int = 0
    raised: int = 0
    cleared: int = 0
    unattributed: int = 0  # rejections whose topic names no station
    unknown_stations: int = 0  # warnings not stored: the topic's station is not registered

    def as_fields(self) -> dict[str, int]:
        return {f"streaming_{k}": getattr(self, k) for k in self.__slots__}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class StreamingChecker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        district: str = "+",
        queue_size: int = 10_000,
        interval: float = 2.0,
        worker: str = "",
        retry: RetrySettings = STREAMING_REGISTRY_RETRY,
        logger: logging.Logger | None = None,
    ) -> None:
        if queue_size < 1 or interval <= 0:
            raise ValueError("queue_size must be ≥ 1 and interval > 0")
        self.log = logger or LOGGER
        self.stats = StreamingStats()
        self._registry = StreamingRegistry(sessions, district=district)
        self._sessions = sessions
        self._queue: deque[Event] = deque()
        self._queue_size = queue_size
        self._interval = interval
        self._retry_settings = retry
        self._last_overflow_log = 0.0
        self._retry: list[Action] = []
        self._worker = worker
        self._activity: Counter[tuple[str, str]] = Counter()
        self._last_recorded = 0
        self._executor: ThreadPoolExecutor | None = None
        rules = {d.id: d for d in STREAMING_RULES}
        self._signature = RejectionDetector(
            rules[SIGNATURE_FAILURE],
            accepts=AUTH_REASONS.__contains__,
            count_name="min_failures",
            what_zh="消息未通过身份校验",
            what_en="messages failed authentication",
        )
        self._rejected = RejectionDetector(
            rules[REJECTED_DATA],
            accepts=lambda reason: reason not in AUTH_REASONS,
            count_name="min_rejections",
            what_zh="消息被拒收",
            what_en="messages rejected",
        )
        self._offline = OfflineDetector(rules[GATEWAY_OFFLINE])
        self._silent = SilentDetector(rules[GATEWAY_SILENT], started_ms=_now_ms())
        self._gaps = GapDetector(rules[SEQUENCE_GAP])
        self._skew = SkewDetector(rules[CLOCK_SKEW])

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- hot path ------------------------------------------------------------------------------

    def notify(self, event: Event) -> None:
        """Called by ingest on the event loop; never blocks, never raises."""
        if len(self._queue) >= self._queue_size:
            self.stats.overflow += 1
            now = time.monotonic()
            if now - self._last_overflow_log > 10:
                self._last_overflow_log = now
                self.log.warning(
                    "streaming checker queue full (%d): %d event(s) not checked so far "
                    "(telemetry is stored; warnings may undercount)",
                    self._queue_size,
                    self.stats.overflow,
                )
            return
        self.stats.events += 1
        self._queue.append(event)

    # -- background ----------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streaming")
        try:
            await self._start(loop)
            while True:
                await asyncio.sleep(self._interval)
                events = list(self._queue)
                self._queue.clear()
                try:
                    await loop.run_in_executor(self._executor, self._tick, events, _now_ms())
                except Exception:  # a checker bug must not stop ingest
                    self.stats.tick_errors += 1
                    self.log.exception("streaming checker tick failed")
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        backoff = Backoff(self._retry_settings)

        def note(exc: Exception, _delay: float) -> None:
            if backoff.failures == 1:
                self.log.error("streaming checker cannot reach the registry: %s", exc)

        await retrying(
            lambda: loop.run_in_executor(self._executor, self._setup),
            backoff=backoff,
            retry_on=SQLAlchemyError,
            on_retry=note,
        )

    def _setup(self) -> None:
        with self._sessions.begin() as session:
            register_streaming_rules(session)
        now = _now_ms()
        for rule_id, station, subject in self._registry.open_warnings():
            if rule_id == SIGNATURE_FAILURE:
                self._signature.adopt(station, subject, now)
            elif rule_id == REJECTED_DATA:
                self._rejected.adopt(station, subject, now)
            elif rule_id == GATEWAY_OFFLINE:
                self._offline.adopt(station, subject, now)
            elif rule_id == GATEWAY_SILENT:
                self._silent.adopt(station, subject)
            elif rule_id == SEQUENCE_GAP:
                self._gaps.adopt(station, subject)
            elif rule_id == CLOCK_SKEW:
                self._skew.adopt(station, subject)
        self._gaps.baseline(self._registry.snapshot().sequences)

    def _record(self, now_ms: int, duration_ms: float) -> None:
        since = self._last_recorded or None
        details = {
            d.id: {
                "worker": self._worker,
                "since": iso(since),
                "raised": self._activity[d.id, "raised"],
                "cleared": self._activity[d.id, "cleared"],
                "events": self.stats.events,
                "overflow": self.stats.overflow,
                "streaming": True,
            }
            for d in STREAMING_RULES
        }
        try:
            self._registry.record(details, duration_ms=duration_ms, at_ms=now_ms)
        except (SQLAlchemyError, RuleError) as exc:
            self.log.warning("streaming checker cannot record its activity: %s", exc)
            return
        self._activity.clear()
        self._last_recorded = now_ms

    def _tick(self, events: list[Event], now_ms: int) -> None:
        """One round in the checker's thread; errors are logged and the round retried."""
        actions, self._retry = self._retry, []
        for ev in events:
            if isinstance(ev, RejectedSeen):
                for detector in (self._signature, self._rejected):
                    if detector.wants(ev):
                        detector.feed(ev)
            elif isinstance(ev, AcceptedSeen):
                actions += self._offline.feed(ev)
                self._silent.feed(ev)
                self._skew.feed(ev)
                self._gaps.feed(ev)
        started = time.perf_counter()
        try:
            snap = self._registry.snapshot()
            s = snap.settings
            actions += self._signature.evaluate(now_ms, s[SIGNATURE_FAILURE])
            actions += self._rejected.evaluate(now_ms, s[REJECTED_DATA])
            actions += self._offline.evaluate(now_ms, s[GATEWAY_OFFLINE], snap.presence)
            actions += self._silent.evaluate(now_ms, s[GATEWAY_SILENT], snap.presence)
            actions += self._gaps.evaluate(now_ms, s[SEQUENCE_GAP], snap.sequences)
            actions += self._skew.evaluate(now_ms, s[CLOCK_SKEW])
            applied = self._registry.apply(actions)
        except SQLAlchemyError as exc:
            self.stats.tick_errors += 1
            # keep only the latest decision per warning: a long outage must not pile them up
            latest = {(a.rule_id, a.station, a.subject): a for a in actions}
            self._retry = list(latest.values())
            self.log.error("streaming checker: registry unavailable, will retry: %s", exc)
            return
        finally:
            self.stats.ticks += 1
        self.stats.raised += applied.raised
        self.stats.cleared += applied.cleared
        for station in applied.unknown_stations:
            self._signature.forget(station)
            self._rejected.forget(station)
        self.stats.unknown_stations += len(applied.unknown_stations)
        self._activity += applied.by_rule
        if now_ms - self._last_recorded >= RECORD_EVERY_MS:
            self._record(now_ms, (time.perf_counter() - started) * 1000)
        self.stats.unattributed = self._signature.unattributed + self._rejected.unattributed
        if applied.raised or applied.cleared:
            self.log.info(
                "streaming: %d warning update(s), %d cleared", applied.raised, applied.cleared
            )
