"""Registering stations, gateways and keys (used by the CLI now, the API later)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fuelwatch.cloud.store.models.registry import District, Gateway, GatewayKey, Station
from fuelwatch.core.errors import UserFacingError
from fuelwatch.core.timeutil import utcnow
from fuelwatch.core.wire import Verifier
from fuelwatch.core.wire.accounts import validate_station_id
from fuelwatch.core.wire.topics import validate_segment

__all__ = ["RegistryError", "ensure_station", "register_gateway", "register_key", "revoke_key"]


class RegistryError(UserFacingError, ValueError):
    """A registration that conflicts with what is registered."""


def ensure_station(session: Session, *, district: str, station: str, name: str = "") -> Station:
    validate_segment(district, "district")
    validate_station_id(station)
    if session.get(District, district) is None:
        session.add(District(id=district, name=district))
        session.flush()
    row = session.get(Station, station)
    if row is None:
        row = Station(id=station, district_id=district, name=name or station)
        session.add(row)
        session.flush()
    elif row.district_id != district:
        raise RegistryError(
            f"station {station} is registered in district {row.district_id}, not {district}"
        )
    return row


def register_gateway(session: Session, *, gateway: str, station: str) -> Gateway:
    validate_segment(gateway, "gateway")
    row = session.get(Gateway, gateway)
    if row is None:
        if session.get(Station, station) is None:
            raise RegistryError(f"station {station} is not registered")
        row = Gateway(id=gateway, station_id=station)
        session.add(row)
        session.flush()
    elif row.station_id != station:
        raise RegistryError(f"gateway {gateway} belongs to station {row.station_id}")
    return row


def register_key(session: Session, *, gateway: str, public_key_pem: bytes) -> GatewayKey:
    verifier = Verifier.from_pem(public_key_pem)
    if session.get(Gateway, gateway) is None:
        raise RegistryError(f"gateway {gateway} is not registered")
    existing = session.get(GatewayKey, verifier.kid)
    if existing is not None:
        if existing.gateway_id != gateway:
            raise RegistryError(f"key {verifier.kid} is registered to {existing.gateway_id}")
        return existing
    key = GatewayKey(
        kid=verifier.kid,
        gateway_id=gateway,
        alg=verifier.alg.value,
        public_key_pem=public_key_pem.decode(),
    )
    session.add(key)
    session.flush()
    return key


def revoke_key(session: Session, *, kid: str) -> GatewayKey:
    key = session.get(GatewayKey, kid)
    if key is None:
        raise RegistryError(f"key {kid} is not registered")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def active_keys(session: Session, gateway: str) -> list[GatewayKey]:
    return list(
        session.scalars(
            select(GatewayKey).where(
                GatewayKey.gateway_id == gateway, GatewayKey.revoked_at.is_(None)
            )
        )
    )
