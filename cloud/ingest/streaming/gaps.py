"""Envelope sequence numbers that never arrived (holes below the high-water mark).

Ingest already keeps, per gateway and shared by all workers, the committed high-water mark and
the holes below it (``gateway_sequences``). A hole is normal for a moment (messages overtake
each other between workers) and a few are normal after a connection drop (a publish attempt
the broker never got burns its number); a hole that stays ``min_age_seconds`` is a message
that did not arrive. The age of a hole is how long this detector has seen any part of it.
When the aged holes hold at least ``min_missing`` numbers the warning is raised (updated when
they change); it clears when they are filled or shrink below the threshold.

Holes that are not judged (the numbers were never used, nothing is missing):

- a restart's skip. The gateway reserves numbers on disk in blocks (of 1,000) so that none is
  ever used twice; a new process starts at the next block, skipping the rest of the old one.
  A hole between the last number seen from one gateway process (envelope ``boot``) and the
  first number seen from the next is that skip.
- the Will's number. A gateway signs its Will (taking a number) right before its birth status
  (the next number); a clean disconnect discards the Will, so every reconnect after a clean
  disconnect leaves that one number unused. A single-number hole right below an ``online``
  status this worker stored is that Will.
- holes already in the table when this worker started (the previous run judged them), unless
  a warning about that gateway is still open.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import pairwise

from fuelwatch.cloud.ingest.streaming.actions import Action, Clear, Raise, iso
from fuelwatch.cloud.ingest.streaming.events import AcceptedSeen
from fuelwatch.cloud.ingest.streaming.presence import gateway_subject
from fuelwatch.cloud.ingest.streaming.rules import RuleDef, RuleSettings

__all__ = ["GapDetector", "SequenceState"]

KEEP_RANGES = 50
KEEP_BIRTHS = 256
KEEP_BOOTS = 32


@dataclass(frozen=True, slots=True)
class SequenceState:
    gw: str
    station: str
    hwm: int
    holes: list[list[int]]


class GapDetector:
    def __init__(self, rule: RuleDef) -> None:
        self.rule = rule
        self._first_seen: dict[str, list[tuple[int, int, int]]] = {}  # gw -> (lo, hi, first ms)
        self._raised: dict[str, tuple[tuple[int, int], ...]] = {}  # gw -> aged holes reported
        self._stations: dict[str, str] = {}
        self._births: dict[str, deque[int]] = {}  # gw -> seqs of online statuses
        self._boots: dict[str, dict[int, list[int]]] = {}  # gw -> boot -> [min seq, max seq]
        self._ignored: dict[str, list[tuple[int, int]]] | None = None  # holes before start

    def feed(self, ev: AcceptedSeen) -> None:
        if ev.status == "online":
            births = self._births.setdefault(ev.gw, deque(maxlen=KEEP_BIRTHS))
            births.append(ev.seq)
        boots = self._boots.setdefault(ev.gw, {})
        span = boots.get(ev.boot)
        if span is None:
            boots[ev.boot] = [ev.seq, ev.seq]
            if len(boots) > KEEP_BOOTS:
                del boots[min(boots)]
        else:
            span[0], span[1] = min(span[0], ev.seq), max(span[1], ev.seq)

    def _restart_skip(self, gw: str, lo: int, hi: int) -> bool:
        spans = [self._boots[gw][b] for b in sorted(self._boots.get(gw, {}))]
        return any(before[1] < lo and hi < after[0] for before, after in pairwise(spans))

    def baseline(self, states: list[SequenceState]) -> None:
        """Holes present when the checker starts are not judged again (call after adopt)."""
        self._ignored = {
            st.gw: [(lo, hi) for lo, hi in st.holes] for st in states if st.gw not in self._raised
        }

    def _judged(self, st: SequenceState) -> list[list[int]]:
        old = (self._ignored or {}).get(st.gw, [])
        births = self._births.get(st.gw, ())
        return [
            [lo, hi]
            for lo, hi in st.holes
            if not (lo == hi and hi + 1 in births)
            and not any(a <= lo and hi <= b for a, b in old)
            and not self._restart_skip(st.gw, lo, hi)
        ]

    def adopt(self, station: str, subject: str) -> None:
        gw = subject.removeprefix("gateway:")
        self._raised[gw] = ()
        self._stations[gw] = station

    def _ages(self, gw: str, holes: list[list[int]], now_ms: int) -> list[tuple[int, int, int]]:
        known = self._first_seen.get(gw, [])
        out = []
        for lo, hi in holes:
            first = min((f for a, b, f in known if a <= hi and lo <= b), default=now_ms)
            out.append((lo, hi, first))
        self._first_seen[gw] = out
        return out

    def evaluate(
        self, now_ms: int, settings: RuleSettings, states: list[SequenceState]
    ) -> list[Action]:
        min_age_ms = settings["min_age_seconds"] * 1000
        actions: list[Action] = []
        for st in states:
            self._stations[st.gw] = st.station
            holes = self._ages(st.gw, self._judged(st), now_ms)
            aged = [(lo, hi, f) for lo, hi, f in holes if now_ms - f >= min_age_ms]
            missing = sum(hi - lo + 1 for lo, hi, _ in aged)
            key = tuple((lo, hi) for lo, hi, _ in aged)
            if settings.enabled and aged and missing >= settings["min_missing"]:
                if self._raised.get(st.gw) != key:
                    self._raised[st.gw] = key
                    actions.append(self._raise(st, aged, missing, now_ms, settings))
            elif st.gw in self._raised:
                del self._raised[st.gw]
                actions.append(
                    Clear(
                        self.rule.id,
                        st.station,
                        gateway_subject(st.gw),
                        now_ms,
                        f"holes filled; {missing} number(s) still missing / 序号缺口已补齐",
                    )
                )
        return actions

    def _raise(
        self,
        st: SequenceState,
        aged: list[tuple[int, int, int]],
        missing: int,
        now_ms: int,
        settings: RuleSettings,
    ) -> Raise:
        ranges = [
            {"from": lo, "to": hi, "missing": hi - lo + 1, "first_seen": iso(f)}
            for lo, hi, f in aged[:KEEP_RANGES]
        ]
        return Raise(
            rule_id=self.rule.id,
            station=st.station,
            subject=gateway_subject(st.gw),
            severity=self.rule.severity,
            title_zh=f"网关 {st.gw} 缺失 {missing} 个报文序号",
            title_en=f"Gateway {st.gw}: {missing} envelope sequence number(s) missing",
            message_zh=f"网关 {st.gw} 的报文序号（最高 {st.hwm}）中有 {missing} 个在 "
            f"{settings['min_age_seconds']:g} 秒后仍未到达，共 {len(aged)} 段",
            message_en=f"{missing} sequence number(s) below {st.gw}'s high-water mark {st.hwm} "
            f"have not arrived after {settings['min_age_seconds']:g} s, in {len(aged)} range(s)",
            evidence={
                "gateway": st.gw,
                "hwm": st.hwm,
                "missing": missing,
                "ranges": ranges,
                "ranges_total": len(aged),
                "min_missing": settings["min_missing"],
                "min_age_seconds": settings["min_age_seconds"],
                "checked_at": iso(now_ms),
                "store": "registry gateway_sequences (hwm, holes)",
                "source": "ingest (streaming)",
            },
            seen_ms=min(f for _, _, f in aged),
        )
