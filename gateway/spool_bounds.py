"""The spool's bounds: age, size cap and a full disk, always by dropping the oldest first.

A gateway must never stop collecting (issue 12: a full 2 MB filesystem once crashed every
adapter). So a write that hits the size cap or ``database or disk is full`` makes room by
dropping the oldest records, counts them in a persistent counter, and is retried. SQLite needs
some free space to record the deletion itself (the WAL grows before the database shrinks), so
the spool keeps a small reserve file beside the database and gives it up first.

Records of a sealed envelope that lose some of their siblings can no longer be resent byte for
byte; the envelope is forgotten (``take_broken``) and its remaining records go out again in a
new one. Their point identity is fixed by the gateway and the record id, so a copy the cloud
already had is stored once.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Bounds", "Drop", "is_disk_full"]

#: Room kept free for SQLite itself: a checkpoint grows the database by up to the WAL's size
#: (at most ``WAL_PAGES`` pages, 128 KiB), and recording a deletion needs a little more WAL.
RESERVE_BYTES = 256 * 1024
#: WAL pages before SQLite checkpoints (its default, 1,000 pages = 4 MB, would fill a small
#: disk with WAL alone before any checkpoint could run).
WAL_PAGES = 32
#: A full disk is cleared this much at a time (a deletion is logged in the WAL first).
STEP_BYTES = 16 * 1024
#: A drop this recent keeps the ``spool_full`` alarm in the status.
ALARM_MS = 10 * 60_000


def is_disk_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or "full" in str(exc).lower()


@dataclass(frozen=True, slots=True)
class Drop:
    records: int
    reason: str
    total: int


class Bounds:
    def __init__(self, path: Path, *, max_age_ms: int, max_bytes: int, log: logging.Logger) -> None:
        self._reserve = path.with_name(path.name + ".reserve")
        self._max_age_ms = max_age_ms
        self._max_bytes = max_bytes
        self._log = log
        self.backlog = 0
        self.backlog_bytes = 0
        self.oldest: int | None = None
        self.dropped = 0
        self._last_drop_ms = 0
        self._disk_full_ms = 0
        self._broken: set[int] = set()

    def load(self, db: sqlite3.Connection, *, dropped: int) -> None:
        self.dropped = dropped
        count, size, oldest = db.execute(
            "SELECT count(*), coalesce(sum(length(body)), 0), min(created) FROM records"
        ).fetchone()
        self.backlog, self.backlog_bytes, self.oldest = count, size, oldest
        self.keep_reserve()

    def alarm(self) -> str:
        now = time.time_ns() // 1_000_000
        if self._disk_full_ms and now - self._disk_full_ms < ALARM_MS:
            return "spool_full: disk full, oldest records dropped"
        if self._last_drop_ms and now - self._last_drop_ms < ALARM_MS:
            return "spool_full: oldest records dropped"
        return ""

    # -- counters ------------------------------------------------------------------------------

    def added(self, rows: list[tuple[str, int, bytes]]) -> None:
        self.backlog += len(rows)
        self.backlog_bytes += sum(len(r[2]) for r in rows)
        if self.oldest is None and rows:
            self.oldest = rows[0][1]

    def removed(self, db: sqlite3.Connection, count: int, size: int) -> None:
        self.backlog -= count
        self.backlog_bytes -= size
        self._refresh_oldest(db)

    def _refresh_oldest(self, db: sqlite3.Connection) -> None:
        row = db.execute("SELECT created FROM records ORDER BY id LIMIT 1").fetchone()
        self.oldest = row[0] if row else None

    def take_broken(self) -> set[int]:
        broken, self._broken = self._broken, set()
        return broken

    # -- the reserve ---------------------------------------------------------------------------

    def keep_reserve(self) -> None:
        """(Re)create the reserve file unless the disk was full a moment ago."""
        if self._reserve.exists() or (
            self._disk_full_ms and time.time_ns() // 1_000_000 - self._disk_full_ms < 60_000
        ):
            return
        self._make_reserve()

    def _make_reserve(self) -> None:
        """As much of the reserve as fits (a part is better than none)."""
        try:
            with self._reserve.open("ab") as f:
                while f.tell() < RESERVE_BYTES:
                    f.write(b"\0" * 16384)
                    f.flush()
        except OSError:
            pass

    # -- dropping ------------------------------------------------------------------------------

    def enforce(self, db: sqlite3.Connection, now_ms: int) -> list[Drop]:
        drops = []
        cutoff = now_ms - self._max_age_ms
        # ids grow with time, so everything up to the youngest too-old id is too old
        row = db.execute("SELECT max(id) FROM records WHERE created < ?", (cutoff,)).fetchone()
        if row and row[0]:
            drops.append(
                self._drop_through(db, row[0], f"older than {self._max_age_ms / 86_400_000:g} days")
            )
        cap = self.enforce_size(db)
        if cap is not None:
            drops.append(cap)
        return [d for d in drops if d.records]

    def enforce_size(self, db: sqlite3.Connection) -> Drop | None:
        if self.backlog_bytes <= self._max_bytes:
            return None
        excess = self.backlog_bytes - int(self._max_bytes * 0.9)
        return self._drop_bytes(db, excess, f"over the {self._max_bytes}-byte cap")

    def free_disk(self, db: sqlite3.Connection) -> Drop:
        """The disk is full: give up the reserve, fold the WAL in, drop the oldest tenth.

        In small steps, each folded into the database at once: one big deletion would need
        WAL space the disk does not have.
        """
        self._disk_full_ms = time.time_ns() // 1_000_000
        self._reserve.unlink(missing_ok=True)
        self._checkpoint(db)
        want = max(64 * 1024, self.backlog_bytes // 10)
        count, freed, failures = 0, 0, 0
        while freed < want and self.backlog and failures < 3:
            before = self.backlog_bytes
            try:
                step = self._drop_bytes(db, STEP_BYTES, "disk full")
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc):
                    raise
                failures += 1
                self._checkpoint(db)
                continue
            count += step.records
            freed += before - self.backlog_bytes
            self._checkpoint(db)
        if count:
            # The freed pages stay inside the database for the next writes; the WAL folded
            # in gave the disk some room back: take the reserve again for the next time.
            self._make_reserve()
        return Drop(count, "disk full", self.dropped)

    def lose_new(self, db: sqlite3.Connection, count: int) -> Drop:
        """New records that could not be written even into an empty spool: counted, lost."""
        self._disk_full_ms = self._last_drop_ms = time.time_ns() // 1_000_000
        self.dropped += count
        try:
            self._save_dropped(db)
        except sqlite3.Error as exc:
            self._log.error("cannot record the drop counter: %s", exc)
        return Drop(count, "disk full even after dropping: these new records lost", self.dropped)

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            self._log.warning("spool WAL checkpoint failed: %s", exc)

    def _drop_bytes(self, db: sqlite3.Connection, want: int, reason: str) -> Drop:
        cut_id, freed = 0, 0
        for rid, length in db.execute("SELECT id, length(body) FROM records ORDER BY id"):
            cut_id, freed = rid, freed + length
            if freed >= want:
                break
        if not cut_id:
            return Drop(0, reason, self.dropped)
        return self._drop_through(db, cut_id, reason)

    def _drop_through(self, db: sqlite3.Connection, cut_id: int, reason: str) -> Drop:
        """Drop every record with id <= ``cut_id`` in one transaction."""
        with db:
            db.execute("BEGIN")
            seqs = [
                s
                for (s,) in db.execute(
                    "SELECT DISTINCT seq FROM records WHERE id <= ? AND seq IS NOT NULL",
                    (cut_id,),
                )
            ]
            count, size = db.execute(
                "SELECT count(*), coalesce(sum(length(body)), 0) FROM records WHERE id <= ?",
                (cut_id,),
            ).fetchone()
            db.execute("DELETE FROM records WHERE id <= ?", (cut_id,))
            for start in range(0, len(seqs), 500):
                chunk = seqs[start : start + 500]
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM envelopes WHERE seq IN ({marks})", chunk)
                db.execute(f"UPDATE records SET seq = NULL WHERE seq IN ({marks})", chunk)
            self.dropped += count
            self._save_dropped(db)
        self._broken.update(seqs)
        self._last_drop_ms = time.time_ns() // 1_000_000
        self.removed(db, count, size)
        return Drop(count, reason, self.dropped)

    def _save_dropped(self, db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('dropped', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (self.dropped,),
        )
