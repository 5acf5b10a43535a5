"""Recompute aggregates for readings that arrive too late for the continuous queries.

A continuous query only covers its recent ``RESAMPLE FOR`` span. A gateway back from a long
outage delivers its spool (up to 30 days) at once: those readings land in raw but their
buckets were aggregated before they existed. Ingest notes the local day of every stored
record older than ``LATE_AFTER`` (cheap: a comparison per message on the hot path) and this
task, every ``interval`` seconds, recomputes those days with the same ``SELECT ... INTO`` the
backfill uses, for this worker's district only. Overwriting a bucket is idempotent, so two
workers refreshing the same day do no harm.

``LATE_AFTER`` = 4 h: the hourly CQs run every hour over the last 6 h, so a reading younger
than 4 h is still covered by a coming run (its hour starts ≥ 5 h before it arrived), and the
daily CQ runs daily over the last 3 days.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta

from fuelwatch.cloud.store.aggregates import AGGREGATE_KINDS, LOCAL_UTC_OFFSET, backfill
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError

__all__ = ["LATE_AFTER", "LateDataRefresher"]

LOGGER = logging.getLogger("fuelwatch.cloud.store.aggregates")
LATE_AFTER = timedelta(hours=4)
MAX_DAYS = 400  # pending local days kept; beyond that the oldest wait for a manual backfill


class LateDataRefresher:
    def __init__(
        self,
        influx: InfluxClient,
        *,
        district: str | None = None,
        interval: float = 600.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self._influx = influx
        self._district = district
        self._interval = interval
        self.log = logger or LOGGER
        self._days: set[date] = set()
        self._late_ms = int(LATE_AFTER.total_seconds() * 1000)
        self.refreshed_days = 0

    @property
    def pending(self) -> list[date]:
        return sorted(self._days)

    def note(self, kind: str, oldest_ms: int, newest_ms: int, now_ms: int) -> None:
        """A message of ``kind`` was stored with records from ``oldest_ms`` to ``newest_ms``."""
        if kind not in AGGREGATE_KINDS or now_ms - oldest_ms < self._late_ms:
            return
        day = self._local_day(oldest_ms)
        last = self._local_day(min(newest_ms, now_ms - self._late_ms))
        while day <= last and (len(self._days) < MAX_DAYS or day in self._days):
            self._days.add(day)
            day += timedelta(days=1)

    @staticmethod
    def _local_day(ms: int) -> date:
        return (datetime.fromtimestamp(ms / 1000, tz=UTC) + LOCAL_UTC_OFFSET).date()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.refresh()

    async def refresh(self) -> None:
        days, self._days = sorted(self._days), set()
        for day in days:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC) - LOCAL_UTC_OFFSET
            try:
                written = await backfill(
                    self._influx,
                    since=start + timedelta(hours=12),  # inside the day; widened to it
                    until=start + timedelta(hours=12),
                    district=self._district,
                )
            except InfluxError as exc:
                self._days.add(day)
                self.log.error("cannot refresh aggregates of %s (will retry): %s", day, exc)
                continue
            self.refreshed_days += 1
            self.log.info("aggregates of %s refreshed after late data: %s", day, written)
