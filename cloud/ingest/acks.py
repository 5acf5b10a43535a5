"""Confirmations to gateways: what this worker has durably handled, and what it misses.

Per flush, every envelope a worker stored (or refused for good after its signature held, with
the evidence row written) is confirmed to its gateway on ``ack/v1/{district}/{station}/
{gateway}``, one message per gateway per flush, QoS 1. A copy of an envelope already handled
is confirmed again (its first confirmation may have been lost). The message format is
``fuelwatch.core.wire.ack``.

Sequence gaps: after each commit the worker sees the gateway's holes (sequence numbers below
the highest committed that nobody has committed). A hole still open ``grace`` seconds later
- not just a message another worker is holding - is asked for again (``resend``), at most
``tries`` times, ``repeat`` seconds apart. Holes below the highest number this worker saw when
it first met the gateway are history (judged by the streaming gap check), not asked for.
Numbers the gateway never used (the rest of a reserved block after a restart, an unused Will)
are asked for too: the gateway ignores what it does not hold, and after ``tries`` the worker
stops asking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fuelwatch.cloud.ingest.keys import GatewayInfo
from fuelwatch.cloud.ingest.sequence import SeqWindow
from fuelwatch.core.wire import Ack, Refusal, ack_topic, encode_ack, to_ranges

__all__ = ["AckBook"]


@dataclass(slots=True)
class _Hole:
    first_seen: float
    tries: int = 0
    last_asked: float = 0.0


@dataclass(slots=True)
class _Pending:
    info: GatewayInfo
    confirmed: set[int] = field(default_factory=set)
    refused: list[Refusal] = field(default_factory=list)


class AckBook:
    def __init__(self, *, grace: float = 2.0, repeat: float = 10.0, tries: int = 3) -> None:
        self._grace = grace
        self._repeat = repeat
        self._tries = tries
        self._pending: dict[str, _Pending] = {}
        self._floor: dict[str, int] = {}
        self._holes: dict[str, dict[tuple[int, int], _Hole]] = {}
        self._infos: dict[str, GatewayInfo] = {}

    def _entry(self, info: GatewayInfo) -> _Pending:
        entry = self._pending.get(info.gateway)
        if entry is None:
            entry = self._pending[info.gateway] = _Pending(info)
        return entry

    def confirm(self, info: GatewayInfo, seq: int) -> None:
        self._entry(info).confirmed.add(seq)

    def refuse(self, info: GatewayInfo, seq: int, reason: str, rids: tuple[int, ...] = ()) -> None:
        entry = self._entry(info)
        entry.confirmed.add(seq)
        entry.refused.append(Refusal(seq, reason, rids))

    def first_seen(self, info: GatewayInfo, window: SeqWindow | None) -> None:
        """Remember the gateway's history line the first time this worker meets it."""
        if info.gateway not in self._floor:
            self._floor[info.gateway] = window.hwm if window is not None else 0

    def note_window(self, info: GatewayInfo, window: SeqWindow, now: float | None = None) -> None:
        """The gateway's holes after a commit: track the new ones, forget the filled ones."""
        now = time.monotonic() if now is None else now
        floor = self._floor.setdefault(info.gateway, 0)
        known = self._holes.get(info.gateway, {})
        current: dict[tuple[int, int], _Hole] = {}
        for lo, hi in window.holes:
            if hi <= floor:
                continue
            key = (max(lo, floor + 1), hi)
            current[key] = known.get(key) or _Hole(now)
        self._holes[info.gateway] = current
        self._infos[info.gateway] = info

    def take(self, now: float | None = None) -> list[tuple[str, bytes, int]]:
        """``(topic, payload, resend ranges)`` to publish: this flush's confirmations and any
        resend requests that are due."""
        now = time.monotonic() if now is None else now
        out: list[tuple[str, bytes, int]] = []
        requests = self._due(now)
        gateways = set(self._pending) | set(requests)
        for gw in sorted(gateways):
            entry = self._pending.get(gw)
            info = entry.info if entry else self._infos[gw]
            ack = Ack(
                gw=gw,
                confirmed=to_ranges(entry.confirmed) if entry else [],
                refused=entry.refused if entry else [],
                resend=requests.get(gw, []),
            )
            topic = ack_topic(info.district, info.station, gw)
            out.append((topic, encode_ack(ack), len(ack.resend)))
        self._pending.clear()
        return out

    def _due(self, now: float) -> dict[str, list[tuple[int, int]]]:
        due: dict[str, list[tuple[int, int]]] = {}
        for gw, holes in self._holes.items():
            for key, hole in holes.items():
                if (
                    hole.tries < self._tries
                    and now - hole.first_seen >= self._grace
                    and now - hole.last_asked >= self._repeat
                ):
                    hole.tries += 1
                    hole.last_asked = now
                    due.setdefault(gw, []).append(key)
        return due
