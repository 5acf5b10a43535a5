"""Registry tables. Every change here comes with an Alembic migration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fuelwatch.cloud.store.models.base import Base, UtcDateTime
from fuelwatch.core.timeutil import utcnow

__all__ = [
    "Device",
    "Dispenser",
    "District",
    "Gateway",
    "GatewayKey",
    "GatewaySequence",
    "Nozzle",
    "Station",
    "Tank",
]


class District(Base):
    __tablename__ = "districts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    stations: Mapped[list[Station]] = relationship(back_populates="district")


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # also the MQTT user name
    district_id: Mapped[str] = mapped_column(ForeignKey("districts.id"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Added by 0002: what a regulator knows about the station.
    licence_no: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(256), default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    operator: Mapped[str] = mapped_column(String(128), default="")
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    district: Mapped[District] = relationship(back_populates="stations")
    gateways: Mapped[list[Gateway]] = relationship(back_populates="station")
    tanks: Mapped[list[Tank]] = relationship(
        back_populates="station", order_by="Tank.tank_no", cascade="all, delete-orphan"
    )
    dispensers: Mapped[list[Dispenser]] = relationship(
        back_populates="station", order_by="Dispenser.dispenser_no", cascade="all, delete-orphan"
    )


class Gateway(Base):
    __tablename__ = "gateways"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Added by 0002: how the gateway logs in to the broker ("password" or "certificate").
    credential: Mapped[str] = mapped_column(String(16), default="password")
    description: Mapped[str] = mapped_column(String(256), default="")

    station: Mapped[Station] = relationship(back_populates="gateways")
    keys: Mapped[list[GatewayKey]] = relationship(back_populates="gateway")
    devices: Mapped[list[Device]] = relationship(
        back_populates="gateway", order_by="Device.device_id", cascade="all, delete-orphan"
    )


class GatewayKey(Base):
    """A gateway's public signing key. Revoked keys stay, for the audit trail."""

    __tablename__ = "gateway_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), index=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    gateway: Mapped[Gateway] = relationship(back_populates="keys")


class GatewaySequence(Base):
    """Which envelope sequence numbers ingest has committed for a gateway.

    ``hwm`` is the highest committed; ``holes`` (JSON ``[[lo, hi], ...]``) the ranges below it
    not seen yet. A sequence number at or below ``hwm`` and outside the holes was committed
    before: a message carrying it again is a replay.
    """

    __tablename__ = "gateway_sequences"

    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), primary_key=True)
    hwm: Mapped[int] = mapped_column(BigInteger, default=0)
    holes: Mapped[str] = mapped_column(Text, default="[]")
    replays: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Tank(Base):
    """A storage tank with its declared capacity and strapping (calibration) table.

    ``strapping`` is ``[[height_mm, volume_l], ...]`` strictly increasing in both; the
    declared capacity is what 虚报罐容 (false capacity) rules compare the gauge against.
    """

    __tablename__ = "tanks"
    __table_args__ = (UniqueConstraint("station_id", "tank_no", name="uq_tanks_station_tank"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    tank_no: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(16))
    capacity_l: Mapped[float] = mapped_column(Float)
    strapping: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    station: Mapped[Station] = relationship(back_populates="tanks")


class Dispenser(Base):
    __tablename__ = "dispensers"
    __table_args__ = (
        UniqueConstraint("station_id", "dispenser_no", name="uq_dispensers_station_no"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    dispenser_no: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(64), default="")
    serial_no: Mapped[str] = mapped_column(String(64), default="")
    tax_control_no: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    station: Mapped[Station] = relationship(back_populates="dispensers")
    nozzles: Mapped[list[Nozzle]] = relationship(
        back_populates="dispenser", order_by="Nozzle.nozzle_no", cascade="all, delete-orphan"
    )


class Nozzle(Base):
    """A nozzle; its number is unique within the station, as records carry it."""

    __tablename__ = "nozzles"
    __table_args__ = (UniqueConstraint("station_id", "nozzle_no", name="uq_nozzles_station_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispenser_id: Mapped[int] = mapped_column(ForeignKey("dispensers.id"), index=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"))
    nozzle_no: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(16))
    tank_no: Mapped[int | None] = mapped_column(Integer, nullable=True)

    dispenser: Mapped[Dispenser] = relationship(back_populates="nozzles")


class Device(Base):
    """A device a gateway reads: adapter type, optional profile and its own settings.

    ``settings`` holds the adapter's fields (serial port, host, unit id ...) beyond ``type``
    and ``id``; the whole is validated against the gateway's adapter registry on write.
    """

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("gateway_id", "device_id", name="uq_devices_gateway_dev"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str | None] = mapped_column(String(128), nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    gateway: Mapped[Gateway] = relationship(back_populates="devices")

    def config(self) -> dict[str, Any]:
        """The device's entry in a gateway config."""
        out: dict[str, Any] = {"type": self.type, "id": self.device_id}
        if self.profile:
            out["profile"] = self.profile
        return out | dict(self.settings)
