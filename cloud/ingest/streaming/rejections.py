"""Rejected messages per station, counted over a sliding window.

Two rules use this detector with different reason sets: authentication failures
(``cloud_data.signature_failure``) and content rejections (``cloud_data.rejected_data``).
A station's warning is raised (or updated) at most once per tick however many messages are
refused, with counts, reasons, topics, gateways, key ids, sequence numbers and references to
sample rows of the ``rejected`` measurement (which holds every payload). It clears after a
whole window without a failure. Rejections whose topic names no station (``bad_topic``) cannot
be attributed and are only counted (the ``rejected`` measurement already has them).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fuelwatch.cloud.ingest.streaming.actions import Action, Clear, Raise, iso
from fuelwatch.cloud.ingest.streaming.events import RejectedSeen
from fuelwatch.cloud.ingest.streaming.rules import RuleDef, RuleSettings

__all__ = ["RejectionDetector"]

SUBJECT = "station"
KEEP_SAMPLES = 5
KEEP_SEQS = 20
KEEP_DISTINCT = 10


@dataclass(slots=True)
class _Station:
    district: str
    buckets: deque[list[int]] = field(default_factory=deque)  # [second, count], oldest first
    total: int = 0
    first_ms: int = 0
    last_ms: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    topics: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    gateways: dict[str, None] = field(default_factory=dict)
    kids: dict[str, None] = field(default_factory=dict)
    seqs: deque[int] = field(default_factory=lambda: deque(maxlen=KEEP_SEQS))
    samples: deque[dict[str, object]] = field(default_factory=lambda: deque(maxlen=KEEP_SAMPLES))
    details: deque[str] = field(default_factory=lambda: deque(maxlen=3))
    fresh: bool = False  # something new since the last raise
    raised: bool = False

    def add(self, ev: RejectedSeen) -> None:
        second = ev.received_ms // 1000
        if self.buckets and self.buckets[-1][0] == second:
            self.buckets[-1][1] += 1
        else:
            self.buckets.append([second, 1])
        self.total += 1
        self.first_ms = self.first_ms or ev.received_ms
        self.last_ms = max(self.last_ms, ev.received_ms)
        self.by_reason[ev.reason] += 1
        for seen, value in ((self.topics, ev.topic), (self.gateways, ev.gw), (self.kids, ev.kid)):
            if value and len(seen) < KEEP_DISTINCT:
                seen[value[:200]] = None
        if ev.seq is not None:
            self.seqs.append(ev.seq)
        if ev.sample_ns is not None:
            self.samples.append(
                {
                    "measurement": "rejected",
                    "time_ns": ev.sample_ns,
                    "reason": ev.reason,
                    "topic": ev.topic[:200],
                    "seq": ev.seq,
                    "query": f'SELECT * FROM "rejected" WHERE time = {ev.sample_ns}',
                }
            )
        self.details.append(ev.detail[:300])
        self.fresh = True

    def in_window(self, now_ms: int, window_s: float) -> int:
        oldest = now_ms // 1000 - int(window_s)
        while self.buckets and self.buckets[0][0] < oldest:
            self.buckets.popleft()
        return sum(n for _, n in self.buckets)


class RejectionDetector:
    def __init__(
        self,
        rule: RuleDef,
        *,
        accepts: Callable[[str], bool],
        count_name: str,
        what_zh: str,
        what_en: str,
    ) -> None:
        self.rule = rule
        self._accepts = accepts
        self._count_name = count_name
        self._what_zh, self._what_en = what_zh, what_en
        self._stations: dict[str, _Station] = {}
        self.unattributed = 0

    def wants(self, ev: RejectedSeen) -> bool:
        return self._accepts(ev.reason)

    def feed(self, ev: RejectedSeen) -> None:
        if ev.station is None or ev.district is None:
            self.unattributed += 1
            return
        state = self._stations.get(ev.station)
        if state is None:
            state = self._stations[ev.station] = _Station(ev.district)
        state.add(ev)

    def adopt(self, station: str, subject: str, now_ms: int) -> None:
        """A warning left open by an earlier run: clear it after a quiet window."""
        if subject == SUBJECT and station not in self._stations:
            self._stations[station] = _Station("", raised=True, last_ms=now_ms)
            self._stations[station].buckets.append([now_ms // 1000, 0])

    def forget(self, station: str) -> None:
        """The station is not in the registry: stop tracking it (counted as unattributed)."""
        self._stations.pop(station, None)

    def evaluate(self, now_ms: int, settings: RuleSettings) -> list[Action]:
        window = settings["window_seconds"]
        threshold = settings[self._count_name]
        actions: list[Action] = []
        for station, s in list(self._stations.items()):
            count = s.in_window(now_ms, window)
            if settings.enabled and s.fresh and count >= threshold:
                actions.append(self._raise(station, s, count, now_ms, window, threshold))
                s.raised, s.fresh = True, False
            elif not s.buckets:
                if s.raised:
                    actions.append(
                        Clear(
                            self.rule.id,
                            station,
                            SUBJECT,
                            now_ms,
                            f"no such rejection for {window:g} s / {window:g} 秒内无此类拒收",
                        )
                    )
                del self._stations[station]
        return actions

    def _raise(
        self, station: str, s: _Station, count: int, now_ms: int, window: float, threshold: float
    ) -> Raise:
        reasons = ", ".join(f"{r} ×{n}" for r, n in s.by_reason.most_common())
        evidence: dict[str, object] = {
            "window_seconds": window,
            "window": [iso(now_ms - int(window * 1000)), iso(now_ms)],
            "threshold": threshold,
            "in_window": count,
            "total": s.total,
            "first_at": iso(s.first_ms),
            "last_at": iso(s.last_ms),
            "by_reason": dict(s.by_reason),
            "topics": list(s.topics),
            "gateways": list(s.gateways),
            "kids": list(s.kids),
            "seqs": list(s.seqs),
            "details": list(s.details),
            "samples": list(s.samples),
            "source": "ingest (streaming)",
        }
        return Raise(
            rule_id=self.rule.id,
            station=station,
            subject=SUBJECT,
            severity=self.rule.severity,
            title_zh=f"{self.rule.name_zh}：{window:g} 秒内 {count} 条",
            title_en=f"{self.rule.name_en}: {count} in {window:g} s",
            message_zh=f"{window:g} 秒内有 {count} 条{self._what_zh}（累计 {s.total}）：{reasons}",
            message_en=f"{count} {self._what_en} within {window:g} s ({s.total} in all): {reasons}",
            evidence=evidence,
            seen_ms=s.last_ms,
        )
