"""Replay detection on envelope sequence numbers, shared by all ingest workers.

Gateways number every publish attempt from one persistent counter, so a sequence number is
used once. Ingest remembers, per gateway, which numbers it has committed: a high-water mark
plus the ranges below it not yet seen (holes). Messages may arrive out of order (several
workers share the subscription; a gateway's unused numbers leave holes), so a number below
the mark is still new while it sits in a hole. A number that was already committed is a copy:
a gateway resending an envelope whose confirmation it did not get, a broker redelivery, or a
replay by someone - byte for byte the envelope stored before (the signature covers the
sequence number), so it is confirmed again and not stored twice (``replays`` counts the copies
that came without the broker's DUP/RETAIN flag).

State lives in the registry table ``gateway_sequences``; ``classify`` reads it before a
flush, ``commit`` merges what was stored after the InfluxDB write succeeded.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.store.models.registry import GatewaySequence
from fuelwatch.core.timeutil import utcnow

__all__ = ["MAX_HOLES", "SeqWindow", "SequenceStore"]

#: Oldest hole ranges beyond this many are forgotten (their numbers then count as seen).
MAX_HOLES = 4096


@dataclass(slots=True)
class SeqWindow:
    hwm: int = 0
    holes: list[list[int]] = field(default_factory=list)  # sorted, disjoint, inclusive

    def seen(self, seq: int) -> bool:
        if seq > self.hwm:
            return False
        i = bisect.bisect_right(self.holes, [seq, float("inf")]) - 1
        return not (i >= 0 and self.holes[i][0] <= seq <= self.holes[i][1])

    def add(self, seq: int) -> None:
        if seq > self.hwm:
            if seq > self.hwm + 1:
                self.holes.append([self.hwm + 1, seq - 1])
                if len(self.holes) > MAX_HOLES:
                    del self.holes[: len(self.holes) - MAX_HOLES]
            self.hwm = seq
            return
        i = bisect.bisect_right(self.holes, [seq, float("inf")]) - 1
        if i < 0 or not self.holes[i][0] <= seq <= self.holes[i][1]:
            return
        lo, hi = self.holes[i]
        pieces = [r for r in ([lo, seq - 1], [seq + 1, hi]) if r[0] <= r[1]]
        self.holes[i : i + 1] = pieces

    def dumps(self) -> str:
        return json.dumps(self.holes, separators=(",", ":"))

    @classmethod
    def load(cls, hwm: int, holes: str) -> SeqWindow:
        return cls(hwm, [list(map(int, r)) for r in json.loads(holes or "[]")])


class SequenceStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def windows(self, gateways: Iterable[str]) -> dict[str, SeqWindow]:
        ids = sorted(set(gateways))
        with self._sessions() as session:
            rows = session.scalars(
                select(GatewaySequence).where(GatewaySequence.gateway_id.in_(ids))
            ).all()
            return {r.gateway_id: SeqWindow.load(r.hwm, r.holes) for r in rows}

    def commit(
        self, accepted: dict[str, list[int]], replays: dict[str, int]
    ) -> dict[str, SeqWindow]:
        """Merge committed sequence numbers (re-reading under the write lock); return the
        gateways' windows as they are now."""
        out: dict[str, SeqWindow] = {}
        if not accepted and not replays:
            return out
        ids = sorted(set(accepted) | set(replays))
        with self._sessions.begin() as session:
            # Read-modify-write under the write lock, or two workers lose each other's
            # numbers (measured: most of them, under load). SQLite: take the database write
            # lock before reading; PostgreSQL: lock the rows.
            query = select(GatewaySequence).where(GatewaySequence.gateway_id.in_(ids))
            dialect = session.get_bind().dialect.name
            if dialect == "sqlite":
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            else:
                query = query.with_for_update()
            rows = {r.gateway_id: r for r in session.scalars(query)}
            for gw in ids:
                row = rows.get(gw)
                if row is None:
                    row = GatewaySequence(gateway_id=gw, hwm=0, holes="[]", replays=0)
                    session.add(row)
                window = SeqWindow.load(row.hwm or 0, row.holes)
                for seq in sorted(accepted.get(gw, ())):
                    window.add(seq)
                row.hwm = window.hwm
                row.holes = window.dumps()
                row.replays = (row.replays or 0) + replays.get(gw, 0)
                row.updated_at = utcnow()
                out[gw] = window
        return out
