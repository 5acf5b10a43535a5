"""The on-disk spool: every record is committed here before anything is published.

Contract (as in the gateway peers we learn from): put -> read batch -> confirm after delivery.
- ``put`` returns once the records are committed (group commit: concurrent puts share one
  transaction and one fsync).
- ``read`` returns the oldest records, optionally skipping topics held back after a broker
  refusal; records leave only through ``confirm`` (after a successful PUBACK) or through the
  bounds (age, size), which drop the oldest and say so loudly: an ERROR log line and the
  ``dropped`` counter that the gateway status reports.
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

from fuelwatch.records import BaseRecord
from fuelwatch.wire import Topic, record_json

__all__ = ["Spool", "SpoolRow", "SpoolStats"]

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
    ) -> None:
        self._path = path
        self._district = district
        self._station = station
        self._max_age_ms = int(max_age_days * 86_400_000)
        self._max_bytes = max_bytes
        self._synchronous = synchronous.upper()
        self._log = logger or LOGGER
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._db: sqlite3.Connection | None = None
        self._queue: list[_Put] = []
        self._flusher: asyncio.Task[None] | None = None
        self._seq_next = 0
        self._seq_reserved = 0
        self._backlog = 0
        self._backlog_bytes = 0
        self._dropped = 0
        self._oldest: int | None = None
        self._topics: dict[tuple[str, str], str] = {}
        self.changed = asyncio.Event()

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
        db.executescript(_SCHEMA)
        self._db = db
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        self._dropped = int(meta.get("dropped", 0))
        # Everything reserved before is considered used: start after the reserved block.
        self._seq_next = int(meta.get("seq_reserved", 0)) + 1
        self._seq_reserved = self._seq_next - 1
        count, size, oldest = db.execute(
            "SELECT count(*), coalesce(sum(length(body)), 0), min(created) FROM records"
        ).fetchone()
        self._backlog, self._backlog_bytes, self._oldest = count, size, oldest

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
                await self._run(self._insert, rows)
            except Exception as exc:
                self._log.exception("spool write failed")
                for put in batch:
                    if not put.done.done():
                        put.done.set_exception(exc)
                continue
            for put in batch:
                if not put.done.done():
                    put.done.set_result(None)
            self.changed.set()

    def _insert(self, rows: list[tuple[str, int, bytes]]) -> None:
        db = self.db
        with db:
            db.execute("BEGIN")
            db.executemany("INSERT INTO records (topic, created, body) VALUES (?, ?, ?)", rows)
        self._backlog += len(rows)
        self._backlog_bytes += sum(len(r[2]) for r in rows)
        if self._oldest is None:
            self._oldest = rows[0][1]

    # -- read / confirm ------------------------------------------------------------------------

    async def read(self, limit: int, *, skip_topics: Sequence[str] = ()) -> list[SpoolRow]:
        return list(await self._run(self._read, limit, tuple(skip_topics)))

    def _read(self, limit: int, skip: tuple[str, ...]) -> list[SpoolRow]:
        if skip:
            marks = ",".join("?" * len(skip))
            cur = self.db.execute(
                f"SELECT id, topic, body FROM records WHERE topic NOT IN ({marks}) "
                "ORDER BY id LIMIT ?",
                (*skip, limit),
            )
        else:
            cur = self.db.execute(
                "SELECT id, topic, body FROM records ORDER BY id LIMIT ?", (limit,)
            )
        return [SpoolRow(rid, topic, bytes(body)) for rid, topic, body in cur]

    async def confirm(self, rids: Sequence[int]) -> None:
        if rids:
            await self._run(self._delete, list(rids))

    def _delete(self, rids: list[int]) -> None:
        db = self.db
        with db:
            db.execute("BEGIN")
            size = 0
            removed = 0
            for start in range(0, len(rids), 500):
                chunk = rids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                gone = db.execute(
                    f"DELETE FROM records WHERE id IN ({marks}) RETURNING length(body)",
                    chunk,
                ).fetchall()
                removed += len(gone)
                size += sum(g[0] for g in gone)
        self._backlog -= removed
        self._backlog_bytes -= size
        self._refresh_oldest()

    def _refresh_oldest(self) -> None:
        row = self.db.execute("SELECT created FROM records ORDER BY id LIMIT 1").fetchone()
        self._oldest = row[0] if row else None

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
        dropped, reason = await self._run(self._enforce, now_ms)
        if dropped:
            self._log.error(
                "SPOOL FULL: dropped %d oldest record(s) (%s); %d dropped since install",
                dropped,
                reason,
                self._dropped,
            )
        return int(dropped)

    def _enforce(self, now_ms: int) -> tuple[int, str]:
        db = self.db
        dropped = 0
        reasons = []
        cutoff = now_ms - self._max_age_ms
        with db:
            db.execute("BEGIN")
            n, size = db.execute(
                "SELECT count(*), coalesce(sum(length(body)), 0) FROM records WHERE created < ?",
                (cutoff,),
            ).fetchone()
            if n:
                db.execute("DELETE FROM records WHERE created < ?", (cutoff,))
                dropped += n
                self._backlog -= n
                self._backlog_bytes -= size
                reasons.append(f"older than {self._max_age_ms / 86_400_000:g} days")
            if self._backlog_bytes > self._max_bytes:
                excess = self._backlog_bytes - int(self._max_bytes * 0.9)
                cut_id, freed, n = 0, 0, 0
                for rid, length in db.execute("SELECT id, length(body) FROM records ORDER BY id"):
                    cut_id, freed, n = rid, freed + length, n + 1
                    if freed >= excess:
                        break
                db.execute("DELETE FROM records WHERE id <= ?", (cut_id,))
                dropped += n
                self._backlog -= n
                self._backlog_bytes -= freed
                reasons.append(f"over {self._max_bytes} bytes")
            if dropped:
                self._dropped += dropped
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('dropped', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (self._dropped,),
                )
        if dropped:
            self._refresh_oldest()
        return dropped, " and ".join(reasons)

    def stats(self) -> SpoolStats:
        return SpoolStats(self._backlog, self._backlog_bytes, self._oldest, self._dropped)
