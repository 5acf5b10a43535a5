"""Department data tables. Each row has a natural key (``record_key``) that makes a
re-import of the same feed update rows instead of doubling them, and carries its station
and district so scope filters need no join."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fuelwatch.cloud.store.models.base import Base, UtcDateTime
from fuelwatch.core.timeutil import utcnow

__all__ = [
    "DATASET_MODELS",
    "DepartmentImport",
    "DepartmentRecord",
    "EWaybill",
    "Inspection",
    "Licence",
    "MetrologyRecord",
    "TaxDeclaration",
]


class DepartmentImport(Base):
    """One import attempt, committed or rejected, with its per-row error report."""

    __tablename__ = "department_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(32), index=True)
    department: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(96))
    source: Mapped[str] = mapped_column(String(16))  # json, csv, xlsx
    filename: Mapped[str] = mapped_column(String(256), default="")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # committed, rejected
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DepartmentRecord(Base):
    __abstract__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_key: Mapped[str] = mapped_column(String(160))
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    district_id: Mapped[str] = mapped_column(String(64), index=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("department_imports.id"))
    department: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class EWaybill(DepartmentRecord):
    """A fuel transport e-waybill (电子运单): what a tanker brought to which station."""

    __tablename__ = "ewaybills"
    __table_args__ = (UniqueConstraint("record_key", name="uq_ewaybills_key"),)

    waybill_no: Mapped[str] = mapped_column(String(64))
    vehicle_plate: Mapped[str] = mapped_column(String(16))
    driver_name: Mapped[str] = mapped_column(String(64), default="")
    driver_phone: Mapped[str] = mapped_column(String(32), default="")
    carrier: Mapped[str] = mapped_column(String(128), default="")
    origin: Mapped[str] = mapped_column(String(128), default="")
    product: Mapped[str] = mapped_column(String(16))
    volume_l: Mapped[float] = mapped_column(Float)
    departed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    arrived_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class TaxDeclaration(DepartmentRecord):
    """A station's tax declaration for a period: declared sales volume and revenue."""

    __tablename__ = "tax_declarations"
    __table_args__ = (UniqueConstraint("record_key", name="uq_tax_declarations_key"),)

    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    product: Mapped[str] = mapped_column(String(16), default="")  # "" = all products
    declared_volume_l: Mapped[float] = mapped_column(Float)
    declared_revenue: Mapped[float] = mapped_column(Float)  # CNY
    tax_paid: Mapped[float | None] = mapped_column(Float, nullable=True)
    declaration_no: Mapped[str] = mapped_column(String(64), default="")


class Licence(DepartmentRecord):
    """A permit: hazardous-chemicals operation, fuel retail approval, business licence."""

    __tablename__ = "licences"
    __table_args__ = (UniqueConstraint("record_key", name="uq_licences_key"),)

    kind: Mapped[str] = mapped_column(String(32))
    licence_no: Mapped[str] = mapped_column(String(64))
    holder: Mapped[str] = mapped_column(String(128), default="")
    issuer: Mapped[str] = mapped_column(String(128), default="")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid, suspended, revoked


class MetrologyRecord(DepartmentRecord):
    """A metrology verification (检定) of a nozzle, or a seal (铅封) put on / found broken."""

    __tablename__ = "metrology_records"
    __table_args__ = (UniqueConstraint("record_key", name="uq_metrology_records_key"),)

    record_type: Mapped[str] = mapped_column(String(16))  # verification, seal
    record_no: Mapped[str] = mapped_column(String(64))
    dispenser_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    nozzle_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    performed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    result: Mapped[str] = mapped_column(String(16), default="")  # pass, fail, adjusted
    error_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    seal_no: Mapped[str] = mapped_column(String(64), default="")
    seal_state: Mapped[str] = mapped_column(String(16), default="")  # intact, broken, replaced
    inspector_name: Mapped[str] = mapped_column(String(64), default="")


class Inspection(DepartmentRecord):
    """An on-site inspection (巡检) by any department: findings and a rectification due date."""

    __tablename__ = "inspections"
    __table_args__ = (UniqueConstraint("record_key", name="uq_inspections_key"),)

    inspection_no: Mapped[str] = mapped_column(String(64))
    inspected_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    inspector_name: Mapped[str] = mapped_column(String(64), default="")
    result: Mapped[str] = mapped_column(String(16))  # pass, issues, fail
    findings: Mapped[str] = mapped_column(Text, default="")
    rectification_due: Mapped[date | None] = mapped_column(Date, nullable=True)


DATASET_MODELS: dict[str, type[DepartmentRecord]] = {
    "ewaybills": EWaybill,
    "tax_declarations": TaxDeclaration,
    "licences": Licence,
    "metrology": MetrologyRecord,
    "inspections": Inspection,
}
