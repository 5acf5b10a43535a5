"""Gateway public keys for ingest, cached and refreshed from the registry.

The whole table is small (a few keys per gateway, hundreds of gateways), so the cache is
reloaded every ``refresh`` seconds and at once (at most once a second) when a message names a
gateway or key it does not know. Registering, rotating or revoking a key therefore takes
effect within seconds, without restarting ingest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.registry.models import Gateway, GatewayKey, Station
from fuelwatch.wire import Verifier

__all__ = ["GatewayInfo", "KeyLookup", "KeyStore"]

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    gateway: str
    station: str
    district: str
    keys: dict[str, Verifier] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class KeyLookup:
    info: GatewayInfo | None
    verifier: Verifier | None
    reason: str | None  # None when usable, else a rejection reason


class KeyStore:
    def __init__(self, sessions: sessionmaker[Session], *, refresh: float = 5.0) -> None:
        self._sessions = sessions
        self._refresh = refresh
        self._gateways: dict[str, GatewayInfo] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    def _load(self) -> dict[str, GatewayInfo]:
        with self._sessions() as session:
            rows = session.execute(
                select(Gateway.id, Station.id, Station.district_id).join(Station)
            ).all()
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
            gw: GatewayInfo(gw, st, dist, by_gw.get(gw, {}), frozenset(revoked.get(gw, ())))
            for gw, st, dist in rows
        }

    async def reload(self) -> None:
        async with self._lock:
            self._gateways = await asyncio.to_thread(self._load)
            self._loaded_at = time.monotonic()

    async def maybe_reload(self, *, force: bool = False) -> None:
        age = time.monotonic() - self._loaded_at
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
