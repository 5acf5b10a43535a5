"""What one row of each department dataset must look like (API JSON, CSV and XLSX alike).

Times without a zone are read in the departments' local zone (``Asia/Shanghai`` unless the
import says otherwise), then stored in UTC. Each row model names its natural key: the
fields that identify the same record when a feed is sent again.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = ["ROW_MODELS", "DepartmentRow"]

Text64 = Annotated[str, Field(max_length=64)]
Text128 = Annotated[str, Field(max_length=128)]
Id64 = Annotated[str, Field(min_length=1, max_length=64)]
Product = Annotated[str, Field(pattern=r"^[A-Za-z0-9#_+-]{1,16}$")]
Phone = Annotated[str, Field(max_length=32, pattern=r"^[0-9+ -]*$")]


class DepartmentRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    KEY: ClassVar[tuple[str, ...]]
    SENSITIVE: ClassVar[tuple[str, ...]] = ()

    station: Id64

    @field_validator("*", mode="after")
    @classmethod
    def _zone(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, datetime) and value.tzinfo is None:
            zone = (info.context or {}).get("tz") or ZoneInfo("Asia/Shanghai")
            return value.replace(tzinfo=zone)
        return value

    def record_key(self) -> str:
        return "|".join(str(getattr(self, f)) for f in self.KEY)[:160]


class EWaybillRow(DepartmentRow):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "waybill_no": "YD20261101000123",
                    "station": "BH0001",
                    "vehicle_plate": "津A12345",
                    "driver_name": "赵六",
                    "driver_phone": "13700001234",
                    "carrier": "滨海危货运输公司",
                    "origin": "大港油库",
                    "product": "92",
                    "volume_l": 20000,
                    "departed_at": "2026-11-01T06:10:00+08:00",
                    "arrived_at": "2026-11-01T08:40:00+08:00",
                }
            ]
        }
    )
    KEY = ("waybill_no",)
    SENSITIVE = ("vehicle_plate", "driver_name", "driver_phone")

    waybill_no: Id64
    vehicle_plate: Annotated[str, Field(min_length=2, max_length=16)]
    driver_name: Text64 = ""
    driver_phone: Phone = ""
    carrier: Text128 = ""
    origin: Text128 = ""
    product: Product
    volume_l: float = Field(gt=0, le=100_000)
    departed_at: datetime | None = None
    arrived_at: datetime

    @model_validator(mode="after")
    def _order(self) -> EWaybillRow:
        if self.departed_at is not None and self.departed_at > self.arrived_at:
            raise ValueError("departed_at is after arrived_at")
        return self


class TaxDeclarationRow(DepartmentRow):
    KEY = ("station", "period_start", "period_end", "product")

    period_start: date
    period_end: date
    product: Annotated[str, Field(pattern=r"^[A-Za-z0-9#_+-]{0,16}$")] = ""
    declared_volume_l: float = Field(ge=0, le=1e9)
    declared_revenue: float = Field(ge=0, le=1e11, description="CNY")
    tax_paid: float | None = Field(default=None, ge=0, le=1e10)
    declaration_no: Text64 = ""

    @model_validator(mode="after")
    def _period(self) -> TaxDeclarationRow:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


LicenceKind = Literal["hazardous_chemicals", "fuel_retail", "business"]


class LicenceRow(DepartmentRow):
    KEY = ("kind", "licence_no")

    kind: LicenceKind
    licence_no: Id64
    holder: Text128 = ""
    issuer: Text128 = ""
    valid_from: date
    valid_until: date
    status: Literal["valid", "suspended", "revoked"] = "valid"

    @model_validator(mode="after")
    def _validity(self) -> LicenceRow:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class MetrologyRow(DepartmentRow):
    KEY = ("record_type", "record_no")
    SENSITIVE = ("inspector_name",)

    record_type: Literal["verification", "seal"]
    record_no: Id64
    dispenser_no: int | None = Field(default=None, ge=1, le=999)
    nozzle_no: int | None = Field(default=None, ge=1, le=999)
    performed_at: datetime
    valid_until: date | None = None
    result: Literal["", "pass", "fail", "adjusted"] = ""
    error_percent: float | None = Field(default=None, ge=-100, le=100)
    seal_no: Text64 = ""
    seal_state: Literal["", "intact", "broken", "replaced"] = ""
    inspector_name: Text64 = ""

    @model_validator(mode="after")
    def _kind(self) -> MetrologyRow:
        if self.record_type == "verification" and not self.result:
            raise ValueError("a verification needs a result (pass, fail, adjusted)")
        if self.record_type == "seal" and not (self.seal_no and self.seal_state):
            raise ValueError("a seal record needs seal_no and seal_state")
        return self


class InspectionRow(DepartmentRow):
    KEY = ("inspection_no",)
    SENSITIVE = ("inspector_name",)

    inspection_no: Id64
    inspected_at: datetime
    inspector_name: Text64 = ""
    result: Literal["pass", "issues", "fail"]
    findings: Annotated[str, Field(max_length=4000)] = ""
    rectification_due: date | None = None


ROW_MODELS: dict[str, type[DepartmentRow]] = {
    "ewaybills": EWaybillRow,
    "tax_declarations": TaxDeclarationRow,
    "licences": LicenceRow,
    "metrology": MetrologyRow,
    "inspections": InspectionRow,
}
