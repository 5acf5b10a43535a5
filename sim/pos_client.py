"""The station POS side of the POS push: sends the simulated POS's rows to the gateway.

Pushes go out in order, one at a time (a POS is a single client), to
``POST {url}/v1/{sales|deliveries|inventory}`` with a JSON list of rows, in chunks of at most
``batch`` rows. A push is retried by ``POS_RETRY`` (``fuelwatch.core.retry``) until the gateway
answers; while the simulated station has no gateway (an outage) the client waits, then sends
its backlog. A 4xx answer is not retried (the same rows would fail again): it is logged with the
gateway's row errors and counted as rejected.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from fuelwatch.core.retry import Backoff, RetrySettings
from fuelwatch.sim.events import PosPush, StationEvent
from fuelwatch.sim.live import SimContext

__all__ = ["DEFAULT_URL", "PosClient", "serve_pos"]

DEFAULT_URL = "http://127.0.0.1:8710"
#: A POS pushes again soon (its rows pile up meanwhile), at most every 5 s.
POS_RETRY = RetrySettings(base=0.2, factor=2.0, cap=5.0)
TOKEN_ENV = "FUELWATCH_POS_TOKEN"  # noqa: S105 - the variable's name, not a secret


class PosClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token: str | None = None,
        wait_reachable: Callable[[], Awaitable[None]] | None = None,
        batch: int = 1000,
        retry: RetrySettings = POS_RETRY,
        logger: logging.Logger | None = None,
    ) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.wait_reachable = wait_reachable
        self.batch = batch
        self.retry = retry
        self.log = logger or logging.getLogger(__name__)
        self.pushed_rows = 0
        self.rejected_rows = 0
        self.retries = 0

    def stats(self) -> dict[str, int]:
        return {
            "pushed_rows": self.pushed_rows,
            "rejected_rows": self.rejected_rows,
            "retries": self.retries,
        }

    async def run(self, queue: asyncio.Queue[StationEvent]) -> None:
        while True:
            event = await queue.get()
            try:
                if isinstance(event, PosPush):
                    await self.send(event)
            finally:
                queue.task_done()

    async def send(self, push: PosPush) -> None:
        rows = list(push.rows)
        for i in range(0, len(rows), self.batch):
            await self._send_chunk(f"/v1/{push.endpoint}", rows[i : i + self.batch])

    async def _send_chunk(self, path: str, rows: list[dict[str, Any]]) -> None:
        backoff = Backoff(self.retry)
        while True:
            if self.wait_reachable is not None:
                await self.wait_reachable()
            try:
                response = await self.http.post(path, json=rows, headers=self.headers)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    self.pushed_rows += len(rows)
                    return
                if 400 <= response.status_code < 500:
                    self.rejected_rows += len(rows)
                    self.log.error(
                        "POS push of %d row(s) to %s refused (%d): %s",
                        len(rows),
                        path,
                        response.status_code,
                        response.text[:500],
                    )
                    return
                problem = f"HTTP {response.status_code}"
            self.retries += 1
            if backoff.failures == 0:
                self.log.warning("POS push to %s failed (%s); retrying", path, problem)
            await backoff.wait()


@asynccontextmanager
async def serve_pos(ctx: SimContext, options: Mapping[str, str]) -> AsyncIterator[PosClient]:
    """Starter for ``--serve pos[:url=...,token=...,drain=seconds]``."""
    url = options.get("url", DEFAULT_URL)
    token = options.get("token") or os.environ.get(TOKEN_ENV)
    drain = float(options.get("drain", "30"))
    queue = ctx.live.subscribe(PosPush)
    log = ctx.logger.getChild("pos")
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
        client = PosClient(http, token=token, wait_reachable=ctx.live.wait_reachable, logger=log)
        task = asyncio.create_task(client.run(queue), name="pos-client")
        try:
            yield client
            try:
                await asyncio.wait_for(queue.join(), drain)  # let the last pushes through
            except TimeoutError:
                log.warning("POS client stopped with %d push(es) unsent", queue.qsize())
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            log.info("POS client to %s: %s", url, client.stats())
