"""A tiny HTTP endpoint for the cloud workers that have no web server: ``/health`` and
Prometheus ``/metrics``. (The API serves its own through FastAPI.)

It runs on the worker's event loop (``asyncio.start_server``), answers GET only, reads at most
a few KiB of request and closes each connection after one answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Self

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["OpsServer"]

LOGGER = logging.getLogger(__name__)
MAX_REQUEST = 8192


class OpsServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        healthy: Callable[[], bool],
        logger: logging.Logger | None = None,
    ) -> None:
        self.host, self.port = host, port
        self._registry = registry
        self._healthy = healthy
        self._log = logger or LOGGER
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._log.info("health and metrics on http://%s:%d", self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        parts = head[:MAX_REQUEST].split(b"\r\n", 1)[0].split()
        method, path = (parts[0], parts[1].split(b"?")[0]) if len(parts) >= 2 else (b"", b"")
        if method != b"GET":
            status, body, ctype = "405 Method Not Allowed", b"GET only\n", "text/plain"
        elif path == b"/metrics":
            status, body, ctype = "200 OK", generate_latest(self._registry), CONTENT_TYPE_LATEST
        elif path == b"/health":
            ok = self._healthy()
            status = "200 OK" if ok else "503 Service Unavailable"
            body, ctype = (b'{"status":"ok"}' if ok else b'{"status":"down"}'), "application/json"
        else:
            status, body, ctype = "404 Not Found", b"not found\n", "text/plain"
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
