"""Writes line-protocol groups to InfluxDB; never gives up on data while InfluxDB is down.

A flush is a list of groups (one group per MQTT message). While InfluxDB is unreachable or
answers 5xx, the writer waits with capped backoff and tries again, holding the flush; the
caller does not acknowledge those messages meanwhile, so the broker keeps the rest (bounded
by the worker's MQTT Receive Maximum). When InfluxDB refuses a write (4xx: a field type
conflict, say), the groups are written one by one to find the refused ones, which are
returned to the caller to be recorded as rejections; the others are stored.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

from cloud.influx import InfluxClient, InfluxUnavailableError, InfluxWriteError

__all__ = ["GroupWriter"]

LOGGER = logging.getLogger(__name__)
MAX_BODY = 8 * 1024 * 1024


class GroupWriter:
    def __init__(
        self,
        influx: InfluxClient,
        *,
        backoff_max: float = 10.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self._influx = influx
        self._backoff_max = backoff_max
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
        attempt = 0
        while True:
            try:
                await self._influx.write(body)
            except InfluxUnavailableError as exc:
                attempt += 1
                self.retries += 1
                if not self.outage:
                    self._log.error("InfluxDB unavailable, holding data and retrying: %s", exc)
                    self.outage = True
                delay = random.uniform(0.5, min(self._backoff_max, 0.5 * 1.5**attempt))
                await asyncio.sleep(delay)
                continue
            if self.outage:
                self._log.warning("InfluxDB is back after %d retries", attempt)
                self.outage = False
            return
