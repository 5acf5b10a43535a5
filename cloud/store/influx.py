"""InfluxDB v1 HTTP API: ``/write`` (line protocol) and ``/query`` (InfluxQL).

Debian's InfluxDB is 1.6.7; the same endpoints are served by 1.8+, by 2.x through its v1
compatibility API and by 3 Core. influxdb-client's writer targets ``/api/v2/write`` (a 404 on
1.x that it swallows), so we speak v1 ourselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Self

import httpx

__all__ = ["InfluxClient", "InfluxError", "InfluxUnavailableError", "InfluxWriteError", "Series"]

LOGGER = logging.getLogger(__name__)


class InfluxError(Exception):
    """InfluxDB answered with an error."""


class InfluxUnavailableError(InfluxError):
    """InfluxDB could not be reached or answered 5xx: retry later, nothing was refused."""


class InfluxWriteError(InfluxError):
    """InfluxDB refused (part of) a write (4xx): retrying the same lines will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"InfluxDB refused write ({status}): {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]

    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, v, strict=False)) for v in self.values]


class InfluxClient:
    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        auth = (username, password or "") if username else None
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout, auth=auth)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def ping(self) -> str:
        try:
            resp = await self._http.get("/ping")
        except httpx.HTTPError as exc:
            raise InfluxUnavailableError(f"InfluxDB at {self.url} unreachable: {exc}") from exc
        if resp.status_code != 204:
            raise InfluxUnavailableError(f"InfluxDB ping answered {resp.status_code}")
        return str(resp.headers.get("X-Influxdb-Version", "unknown"))

    async def write(self, lines: bytes, *, precision: str = "ns", rp: str | None = None) -> None:
        params = {"db": self.database, "precision": precision}
        if rp:
            params["rp"] = rp
        try:
            resp = await self._http.post("/write", params=params, content=lines)
        except httpx.HTTPError as exc:
            raise InfluxUnavailableError(f"InfluxDB at {self.url} unreachable: {exc}") from exc
        if resp.status_code == 204:
            return
        message = _error_text(resp)
        if resp.status_code >= 500:
            raise InfluxUnavailableError(f"InfluxDB write failed ({resp.status_code}): {message}")
        raise InfluxWriteError(resp.status_code, message)

    async def query(
        self,
        q: str,
        *,
        epoch: str = "ms",
        database: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[Series]:
        """Run InfluxQL; one statement; returns its series. Raises InfluxError on failure."""
        results = await self.query_many(q, epoch=epoch, database=database, params=params)
        return results[0] if results else []

    async def query_many(
        self,
        q: str,
        *,
        epoch: str = "ms",
        database: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[list[Series]]:
        data: dict[str, str] = {"q": q, "db": database or self.database, "epoch": epoch}
        if params:
            import orjson  # noqa: PLC0415 - only queries with bound parameters need it

            data["params"] = orjson.dumps(params).decode()
        try:
            resp = await self._http.post("/query", data=data)
        except httpx.HTTPError as exc:
            raise InfluxUnavailableError(f"InfluxDB at {self.url} unreachable: {exc}") from exc
        if resp.status_code >= 500:
            raise InfluxUnavailableError(f"InfluxDB query failed ({resp.status_code})")
        body = resp.json()
        if "error" in body:
            raise InfluxError(f"query failed: {body['error']}")
        out: list[list[Series]] = []
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxError(f"query failed: {result['error']}")
            out.append(
                [
                    Series(
                        s.get("name", ""), s.get("tags") or {}, s["columns"], s.get("values", [])
                    )
                    for s in result.get("series", [])
                ]
            )
        return out

    async def create_database(self) -> None:
        await self.query(f'CREATE DATABASE "{self.database}"')


def _error_text(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error", resp.text))
    except ValueError:
        return resp.text[:500]
