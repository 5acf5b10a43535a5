"""Rule settings: which rules run, their thresholds, and how their last run went."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, BigInteger, Boolean, Float, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fuelwatch.cloud.store.models.base import Base, UtcDateTime
from fuelwatch.core.timeutil import utcnow

__all__ = ["Rule", "RuleState", "ThresholdSpec"]


class ThresholdSpec(BaseModel):
    """What one threshold may be: its type, bounds and unit (shown in the API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["number", "integer", "boolean"] = "number"
    min: float | None = None
    max: float | None = None
    unit: str = ""
    description: str = ""


class Rule(Base):
    __tablename__ = "rules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(128), default="")
    name_en: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    threshold_specs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    defaults: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(96), default="")
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_result: Mapped[str | None] = mapped_column(String(16), nullable=True)  # ok/fired/error
    last_detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)

    def specs(self) -> dict[str, ThresholdSpec]:
        return {k: ThresholdSpec.model_validate(v) for k, v in self.threshold_specs.items()}


class RuleState(Base):
    """The rule engine's running state of one station (see cloud/rules/state/): what it has
    read up to (``fed_ms``, feed time) and its per-tank / per-nozzle statistics (JSON), so a
    restarted engine resumes instead of re-reading raw windows."""

    __tablename__ = "rule_state"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    fed_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    saved_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
