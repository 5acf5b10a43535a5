"""What a detector decides: raise (open or update) a warning, or clear it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fuelwatch.cloud.common.categories import Severity

__all__ = ["Action", "Clear", "Raise", "iso", "to_datetime"]


@dataclass(frozen=True, slots=True)
class Raise:
    rule_id: str
    station: str
    subject: str
    severity: Severity
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str
    evidence: dict[str, Any] = field(default_factory=dict)
    seen_ms: int = 0


@dataclass(frozen=True, slots=True)
class Clear:
    rule_id: str
    station: str
    subject: str
    at_ms: int
    note: str = ""


Action = Raise | Clear


def to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso(ms: int | None) -> str | None:
    return None if ms is None else to_datetime(ms).isoformat(timespec="milliseconds")
