"""The on-disk spool: every record is committed here before anything is published, and stays
until the cloud has confirmed it.

Contract (as in the gateway peers we learn from): put -> read batch -> seal into an envelope ->
confirm when the cloud says it is stored.
- ``put`` returns once the records are committed (group commit: concurrent puts share one
  transaction and one fsync). It never fails for lack of room: on the size cap or a full disk
  the oldest records are dropped first, each drop logged at ERROR (``SPOOL FULL``) and counted
  (``dropped``), and the new records go in. Collection never stops.
- ``read`` returns the oldest records not yet in an envelope, optionally skipping topics held
  back after a broker refusal.
- ``seal`` records, in one transaction, which envelope (sequence number, signed head and
  trailer) carries which records, before the envelope is published; a resend - after a
  timeout, a reconnect or a restart - rebuilds the same bytes (``payload``).
- ``confirm_envelopes`` deletes what the cloud confirmed. Nothing else deletes a record except
  the bounds (age, size, disk), which drop the oldest and say so loudly.
- ``next_seq`` hands out the envelope sequence numbers. They are reserved on disk in blocks
  before use, so a sequence number is never used twice, even after a crash (a crash only
  skips the rest of a block).

All SQLite work runs on one worker thread; the event loop never waits on fsync.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from fuelwatch.core.records import BaseRecord
from fuelwatch.core.wire import Topic, assemble, record_json
from fuelwatch.gateway.sealing import BoxKey, is_sealed
from fuelwatch.gateway.spool_bounds import WAL_PAGES, Bounds, Drop, is_disk_full

__all__ = ["Envelope", "Spool", "SpoolRow", "SpoolStats"]

LOGGER = logging.getLogger(__name__)
SEQ_BLOCK = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,  -- the record id (rid); never reused
    topic   TEXT    NOT NULL,
    created INTEGER NOT NULL,                   -- gateway clock, ms, when spooled
    body    BLOB    NOT NULL                    -- record JSON without rid
);
CREATE INDEX IF NOT EXISTS records_created ON records (created);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS envelopes (
    seq     INTEGER PRIMARY KEY,                -- the envelope's sequence number
    topic   TEXT    NOT NULL,
    prefix  BLOB    NOT NULL,                   -- signed body up to the records
    trailer BLOB    NOT NULL,                   -- the signature line
    created INTEGER NOT NULL                    -- gateway clock, ms, when sealed
);
"""
# Added with cloud confirmations: which envelope carries a record (NULL: not sent yet).
_MIGRATE = """
ALTER TABLE records ADD COLUMN seq INTEGER;
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS records_unsent ON records (id) WHERE seq IS NULL;
CREATE INDEX IF NOT EXISTS records_by_seq ON records (seq) WHERE seq IS NOT NULL;
"""


@dataclass(frozen=True, slots=True)
class SpoolRow:
    rid: int
    topic: str
    body: bytes


@dataclass(frozen=True, slots=True)
class SpoolStats:
    backlog: int
    backlog_bytes: int
    oldest: int | None
    dropped: int
    alarm: str = ""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A sealed envelope waiting for the cloud's confirmation."""

    seq: int
    topic: str
    records: int


@dataclass(slots=True)
class _Put:
    rows: list[tuple[str, int, bytes]]
    done: asyncio.Future[None]


class Spool:
    def __init__(
        self,
        path: Path,
        *,
        district: str,
        station: str,
        max_age_days: float = 30.0,
        max_bytes: int = 2 * 1024**3,
        synchronous: str = "full",
        logger: logging.Logger | None = None,
        seal_with: BoxKey | None = None,
    ) -> None:
        self._path = path
        self._box_key = seal_with  # SM4-GCM on each body, the topic as associated data
        self._district = district
        self._station = station
        self._synchronous = synchronous.upper()
        self._log = logger or LOGGER
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._db: sqlite3.Connection | None = None
        self._queue: list[_Put] = []
        self._flusher: asyncio.Task[None] | None = None
        self._seq_next = 0
        self._seq_reserved = 0
        self._topics: dict[tuple[str, str], str] = {}
        self._bounds = Bounds(
            path, max_age_ms=int(max_age_days * 86_400_000), max_bytes=max_bytes, log=self._log
        )
        self.changed = asyncio.Event()
        #: set whenever records are dropped (the status reports it at once)
        self.dropped_event = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._run(self._open)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._run(self._close)
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self._synchronous == 'FULL' else 'NORMAL'}")
        db.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
        db.executescript(_SCHEMA)
        if "seq" not in {row[1] for row in db.execute("PRAGMA table_info(records)")}:
            db.executescript(_MIGRATE)
        db.executescript(_INDEXES)
        self._db = db
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        # Everything reserved before is considered used: start after the reserved block.
        self._seq_next = int(meta.get("seq_reserved", 0)) + 1
        self._seq_reserved = self._seq_next - 1
        self._bounds.load(db, dropped=int(meta.get("dropped", 0)))

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("spool is not open")
        return self._db

    # -- put (group commit) --------------------------------------------------------------------

    def topic_for(self, device: str, record: BaseRecord) -> str:
        key = (device, record.KIND.value)
        topic = self._topics.get(key)
        if topic is None:
            topic = str(Topic(self._district, self._station, device, record.KIND))
            self._topics[key] = topic
        return topic

    async def put(self, device: str, records: Sequence[BaseRecord]) -> None:
        if not records:
            return
        now = time.time_ns() // 1_000_000
        rows = [(self.topic_for(device, r), now, record_json(r)) for r in records]
        if self._box_key is not None:
            key = self._box_key
            rows = [(topic, at, key.seal(body, topic.encode())) for topic, at, body in rows]
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Put(rows, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name="spool-flush")
        await fut

    async def _flush_loop(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            rows = [row for put in batch for row in put.rows]
            try:
                drops: list[Drop] = await self._run(self._insert, rows)
            except Exception as exc:
                self._log.exception("spool write failed")
                for put in batch:
                    if not put.done.done():
                        put.done.set_exception(exc)
                continue
            for put in batch:
                if not put.done.done():
                    put.done.set_result(None)
            self._report(drops)
            self.changed.set()

    def _insert(self, rows: list[tuple[str, int, bytes]]) -> list[Drop]:
        """Commit ``rows``; make room first when the disk or the size cap says so."""
        drops: list[Drop] = []
        for _attempt in range(8):
            try:
                self._insert_once(rows)
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc):
                    raise
                drop = self._bounds.free_disk(self.db)
                drops.append(drop)
                if drop.records == 0:
                    break  # nothing left to drop: the new rows cannot go in
                continue
            self._bounds.added(rows)
            cap = self._bounds.enforce_size(self.db)
            if cap is not None:
                drops.append(cap)
            return drops
        # The disk is full even with the spool empty: these readings are lost. Say so.
        drops.append(self._bounds.lose_new(self.db, len(rows)))
        return drops

    def _insert_once(self, rows: list[tuple[str, int, bytes]]) -> None:
        db = self.db
        with db:
            db.execute("BEGIN")
            db.executemany("INSERT INTO records (topic, created, body) VALUES (?, ?, ?)", rows)

    def _report(self, drops: list[Drop]) -> None:
        for drop in drops:
            if drop.records:
                self._log.error(
                    "SPOOL FULL: dropped %d oldest record(s) (%s); %d dropped since install",
                    drop.records,
                    drop.reason,
                    drop.total,
                )
        if any(d.records for d in drops):
            self.dropped_event.set()

    # -- read / seal / confirm -----------------------------------------------------------------

    async def read(self, limit: int, *, skip_topics: Sequence[str] = ()) -> list[SpoolRow]:
        """The oldest records not in an envelope yet."""
        return list(await self._run(self._read, limit, tuple(skip_topics)))

    def _read(self, limit: int, skip: tuple[str, ...]) -> list[SpoolRow]:
        if skip:
            marks = ",".join("?" * len(skip))
            cur = self.db.execute(
                f"SELECT id, topic, body FROM records WHERE seq IS NULL "
                f"AND topic NOT IN ({marks}) ORDER BY id LIMIT ?",
                (*skip, limit),
            )
        else:
            cur = self.db.execute(
                "SELECT id, topic, body FROM records WHERE seq IS NULL ORDER BY id LIMIT ?",
                (limit,),
            )
        return [SpoolRow(rid, topic, self._clear(topic, bytes(body))) for rid, topic, body in cur]

    def _clear(self, topic: str, body: bytes) -> bytes:
        """A record body as it was put (opened if the spool seals: gateway/sealing.py)."""
        if self._box_key is None or not is_sealed(body):
            return body
        return self._box_key.open(body, topic.encode())

    async def seal(self, envelopes: Sequence[tuple[int, str, bytes, bytes, Sequence[int]]]) -> None:
        """Record ``(seq, topic, prefix, trailer, rids)`` envelopes before they are published."""
        if envelopes:
            await self._run(self._seal, list(envelopes))

    def _seal(self, envelopes: list[tuple[int, str, bytes, bytes, Sequence[int]]]) -> None:
        db = self.db
        now = time.time_ns() // 1_000_000
        with db:
            db.execute("BEGIN")
            for seq, topic, prefix, trailer, rids in envelopes:
                db.execute(
                    "INSERT INTO envelopes (seq, topic, prefix, trailer, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (seq, topic, prefix, trailer, now),
                )
                for start in range(0, len(rids), 500):
                    chunk = list(rids[start : start + 500])
                    marks = ",".join("?" * len(chunk))
                    db.execute(f"UPDATE records SET seq = ? WHERE id IN ({marks})", (seq, *chunk))

    async def outstanding(self) -> list[Envelope]:
        """Sealed envelopes not confirmed yet, oldest first (after a restart: resend them)."""
        return list(await self._run(self._outstanding))

    def _outstanding(self) -> list[Envelope]:
        rows = self.db.execute(
            "SELECT e.seq, e.topic, count(r.id) FROM envelopes e "
            "LEFT JOIN records r ON r.seq = e.seq GROUP BY e.seq ORDER BY e.seq"
        ).fetchall()
        return [Envelope(seq, topic, n) for seq, topic, n in rows]

    async def payload(self, seq: int) -> tuple[str, bytes] | None:
        """The topic and exact payload of a sealed envelope (None if it is gone)."""
        result: tuple[str, bytes] | None = await self._run(self._payload, seq)
        return result

    def _payload(self, seq: int) -> tuple[str, bytes] | None:
        row = self.db.execute(
            "SELECT topic, prefix, trailer FROM envelopes WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            return None
        records = self.db.execute(
            "SELECT id, body FROM records WHERE seq = ? ORDER BY id", (seq,)
        ).fetchall()
        if not records:
            return None
        topic = str(row[0])
        bodies = [(r, self._clear(topic, bytes(b))) for r, b in records]
        return topic, assemble(bytes(row[1]), bodies, bytes(row[2]))

    async def confirm_envelopes(self, seqs: Sequence[int]) -> int:
        """Delete confirmed envelopes and their records; returns records removed."""
        if not seqs:
            return 0
        removed: int = await self._run(self._confirm_envelopes, sorted(set(seqs)))
        return removed

    def _confirm_envelopes(self, seqs: list[int]) -> int:
        db = self.db
        removed = 0
        size = 0
        with db:
            db.execute("BEGIN")
            for start in range(0, len(seqs), 500):
                chunk = seqs[start : start + 500]
                marks = ",".join("?" * len(chunk))
                gone = db.execute(
                    f"DELETE FROM records WHERE seq IN ({marks}) RETURNING length(body)", chunk
                ).fetchall()
                removed += len(gone)
                size += sum(g[0] for g in gone)
                db.execute(f"DELETE FROM envelopes WHERE seq IN ({marks})", chunk)
        self._bounds.removed(db, removed, size)
        return removed

    async def confirm(self, rids: Sequence[int]) -> None:
        """Delete records by id (records that never were in an envelope)."""
        if rids:
            await self._run(self._delete, list(rids))

    def _delete(self, rids: list[int]) -> None:
        db = self.db
        size = 0
        removed = 0
        with db:
            db.execute("BEGIN")
            for start in range(0, len(rids), 500):
                chunk = rids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                gone = db.execute(
                    f"DELETE FROM records WHERE id IN ({marks}) RETURNING length(body)",
                    chunk,
                ).fetchall()
                removed += len(gone)
                size += sum(g[0] for g in gone)
        self._bounds.removed(db, removed, size)

    def take_broken(self) -> set[int]:
        """Envelopes that lost records to a drop: not resendable (the rest goes out anew)."""
        return self._bounds.take_broken()

    # -- sequence numbers ----------------------------------------------------------------------

    async def next_seq(self) -> int:
        if self._seq_next > self._seq_reserved:
            await self._run(self._reserve)
        seq = self._seq_next
        self._seq_next += 1
        return seq

    def _reserve(self) -> None:
        new_top = self._seq_reserved + SEQ_BLOCK
        with self.db as db:
            db.execute("BEGIN")
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('seq_reserved', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (new_top,),
            )
        self._seq_reserved = new_top

    # -- bounds --------------------------------------------------------------------------------

    async def enforce_bounds(self, now_ms: int | None = None) -> int:
        """Drop what is past the age or size bound, oldest first. Returns records dropped."""
        now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        drops: list[Drop] = await self._run(self._bounds.enforce, self.db, now_ms)
        self._report(drops)
        await self._run(self._bounds.keep_reserve)
        return sum(d.records for d in drops)

    def stats(self) -> SpoolStats:
        b = self._bounds
        return SpoolStats(b.backlog, b.backlog_bytes, b.oldest, b.dropped, b.alarm())
