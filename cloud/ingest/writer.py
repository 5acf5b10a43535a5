"""Writes line-protocol groups to InfluxDB; never gives up on data while InfluxDB is down.

A flush is a list of groups (one group per MQTT message). While InfluxDB is unreachable or
answers 5xx, the writer waits by its retry policy and tries again, holding the flush; the
caller does not acknowledge those messages meanwhile, so the broker keeps the rest (bounded
by the worker's MQTT Receive Maximum). When InfluxDB refuses a write (4xx: a field type
conflict, say), the groups are written one by one to find the refused ones, which are
returned to the caller to be recorded as rejections; the others are stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fuelwatch.cloud.store.influx import InfluxClient, InfluxUnavailableError, InfluxWriteError
from fuelwatch.core.retry import Backoff, RetrySettings, retrying

__all__ = ["GroupWriter"]

LOGGER = logging.getLogger(__name__)
MAX_BODY = 8 * 1024 * 1024


class GroupWriter:
    def __init__(
        self,
        influx: InfluxClient,
        *,
        retry: RetrySettings,
        logger: logging.Logger | None = None,
    ) -> None:
        self._influx = influx
        self._retry = retry
        self._log = logger or LOGGER
        self.outage = False
        self.retries = 0

    async def write(self, groups: Sequence[list[str]]) -> dict[int, str]:
        """Store every group; return {index: error} for groups InfluxDB refused."""
        refused: dict[int, str] = {}
        chunk: list[int] = []
        size = 0
        for i, group in enumerate(groups):
            gsize = sum(len(line) + 1 for line in group)
            if chunk and size + gsize > MAX_BODY:
                refused |= await self._write_chunk(groups, chunk)
                chunk, size = [], 0
            chunk.append(i)
            size += gsize
        if chunk:
            refused |= await self._write_chunk(groups, chunk)
        return refused

    async def _write_chunk(self, groups: Sequence[list[str]], idx: list[int]) -> dict[int, str]:
        body = "\n".join(line for i in idx for line in groups[i]).encode()
        if not body:
            return {}
        try:
            await self._retrying(body)
        except InfluxWriteError as exc:
            if len(idx) == 1:
                return {idx[0]: exc.message}
            self._log.warning(
                "InfluxDB refused a write (%s); isolating the refused message(s)", exc.message[:200]
            )
            refused: dict[int, str] = {}
            for i in idx:
                refused |= await self._write_chunk(groups, [i])
            return refused
        return {}

    async def _retrying(self, body: bytes) -> None:
        # One backoff per write: flushes running in parallel each keep their own count.
        backoff = Backoff(self._retry)

        def note(exc: Exception, _delay: float) -> None:
            self.retries += 1
            if not self.outage:
                self._log.error("InfluxDB unavailable, holding data and retrying: %s", exc)
                self.outage = True

        await retrying(
            lambda: self._influx.write(body),
            backoff=backoff,
            retry_on=InfluxUnavailableError,
            on_retry=note,
        )
        if self.outage:
            self._log.warning("InfluxDB is back after %d retries", backoff.failures)
            self.outage = False
