"""Gateway public keys for ingest, cached and refreshed from the registry.

The whole table is small (a few keys per gateway, hundreds of gateways), so the cache is
reloaded every ``refresh`` seconds and at once (at most once a second) when a message names a
gateway or key it does not know. Registering, rotating or revoking a key therefore takes
effect without restarting ingest: ingest calls ``maybe_reload`` *before* it checks a batch,
and a load's age is counted from when its query started, so a revocation committed at T is
applied to every message checked from T + ``refresh`` on (5 s by default).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.store.models.registry import Gateway, GatewayKey, Station, Tank
from fuelwatch.core.wire import Verifier

__all__ = ["GatewayInfo", "KeyLookup", "KeyStore"]

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    gateway: str
    station: str
    district: str
    keys: dict[str, Verifier] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()
    registered_ms: int | None = None  # when the gateway was provisioned
    tank_heights: dict[int, float] = field(default_factory=dict)  # full height, mm, by tank


@dataclass(frozen=True, slots=True)
class KeyLookup:
    info: GatewayInfo | None
    verifier: Verifier | None
    reason: str | None  # None when usable, else a rejection reason


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


class KeyStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        refresh: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._refresh = refresh
        self._clock = clock
        self._gateways: dict[str, GatewayInfo] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    def _load(self) -> dict[str, GatewayInfo]:
        with self._sessions() as session:
            rows = session.execute(
                select(Gateway.id, Station.id, Station.district_id, Gateway.created_at).join(
                    Station
                )
            ).all()
            heights: dict[str, dict[int, float]] = {}
            for station, tank_no, strapping in session.execute(
                select(Tank.station_id, Tank.tank_no, Tank.strapping)
            ):
                if strapping:
                    heights.setdefault(station, {})[tank_no] = float(strapping[-1][0])
            keys = session.scalars(select(GatewayKey)).all()
            by_gw: dict[str, dict[str, Verifier]] = {}
            revoked: dict[str, set[str]] = {}
            for key in keys:
                if key.revoked_at is not None:
                    revoked.setdefault(key.gateway_id, set()).add(key.kid)
                    continue
                try:
                    by_gw.setdefault(key.gateway_id, {})[key.kid] = Verifier.from_pem(
                        key.public_key_pem.encode()
                    )
                except ValueError as exc:
                    LOGGER.error(
                        "registered key %s of %s is unusable: %s", key.kid, key.gateway_id, exc
                    )
        return {
            gw: GatewayInfo(
                gw,
                st,
                dist,
                by_gw.get(gw, {}),
                frozenset(revoked.get(gw, ())),
                _ms(created),
                heights.get(st, {}),
            )
            for gw, st, dist, created in rows
        }

    async def reload(self) -> None:
        async with self._lock:
            started = self._clock()  # the data is as old as the query, not as its end
            self._gateways = await asyncio.to_thread(self._load)
            self._loaded_at = started

    async def maybe_reload(self, *, force: bool = False) -> None:
        age = self._clock() - self._loaded_at
        if age >= self._refresh or (force and age >= 1.0):
            await self.reload()

    def lookup(self, gateway: str, kid: str) -> KeyLookup:
        info = self._gateways.get(gateway)
        if info is None:
            return KeyLookup(None, None, "unknown_gateway")
        if kid in info.revoked:
            return KeyLookup(info, None, "revoked_key")
        verifier = info.keys.get(kid)
        if verifier is None:
            return KeyLookup(info, None, "unknown_key")
        return KeyLookup(info, verifier, None)
