"""Time references and layout references in scenario files, checked against the run.

A scenario's times are offsets from its start (``3d12h``) or absolute instants; tank, nozzle
and product references must name what the scenario's layout has. The checks need the layout
as validation context (``LayoutContext``), which ``scenario.parse_scenario`` provides.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

if TYPE_CHECKING:
    from fuelwatch.sim.scenario import ProductSpec

__all__ = [
    "PRODUCT",
    "SEGMENT",
    "Duration",
    "LayoutContext",
    "NozzleRef",
    "ProductRef",
    "Strict",
    "TankRef",
    "TimeRef",
    "Window",
    "at_time",
    "epoch_ms",
    "layout_of",
]

SEGMENT = r"^[A-Za-z0-9_-]{1,64}$"
PRODUCT = r"^[A-Za-z0-9#_+-]{1,16}$"


# -- time references -----------------------------------------------------------------------

_DURATION = re.compile(
    r"^(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$"
)


def _duration(text: str) -> timedelta | None:
    match = _DURATION.match(text.replace(" ", ""))
    if not text.strip() or match is None:
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )  # fmt: skip


def _parse_duration(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        parsed = _duration(value)
        if parsed is not None:
            return parsed
    return value  # pydantic takes ISO 8601 ("P1DT2H") or fails with its own message


def _parse_time_ref(value: object) -> object:
    """A point in the run: an offset from the start ("2d6h", seconds) or an aware datetime."""
    parsed = _parse_duration(value)
    if isinstance(parsed, timedelta | datetime):
        return parsed
    if isinstance(parsed, str):
        try:
            parsed = datetime.fromisoformat(parsed)
        except ValueError:
            raise ValueError(
                f"{value!r} is neither an offset like '2d6h' nor an ISO datetime"
            ) from None
    if isinstance(parsed, datetime) and parsed.tzinfo is None:
        raise ValueError(f"{value!r}: a datetime needs a UTC offset, e.g. +08:00")
    return parsed


@dataclass(frozen=True, slots=True)
class LayoutContext:
    """What the second validation pass knows about the station."""

    start: datetime
    end: datetime
    products: dict[str, ProductSpec]  # the scenario's products, by code
    tanks: dict[int, str]  # tank -> product
    nozzles: set[int]
    served: set[str]  # products some nozzle sells


def layout_of(info: ValidationInfo) -> LayoutContext | None:
    return info.context if isinstance(info.context, LayoutContext) else None


def _in_run(value: timedelta | datetime, info: ValidationInfo) -> timedelta | datetime:
    ctx = layout_of(info)
    if ctx is None:
        return value
    at = at_time(ctx.start, value)
    if not ctx.start <= at <= ctx.end:
        raise ValueError(f"{at.isoformat()} is outside the run ({ctx.start} .. {ctx.end})")
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]
TimeRef = Annotated[timedelta | datetime, BeforeValidator(_parse_time_ref), AfterValidator(_in_run)]


def _known_tank(value: int, info: ValidationInfo) -> int:
    ctx = layout_of(info)
    if ctx is not None and value not in ctx.tanks:
        raise ValueError(f"no tank {value} in tanks")
    return value


def _known_nozzle(value: int, info: ValidationInfo) -> int:
    ctx = layout_of(info)
    if ctx is not None and value not in ctx.nozzles:
        raise ValueError(f"no nozzle {value} in dispensers")
    return value


def _known_product(value: str, info: ValidationInfo) -> str:
    ctx = layout_of(info)
    if ctx is not None and value not in ctx.products:
        raise ValueError(f"no product {value!r} in products (have {sorted(ctx.products)})")
    return value


TankRef = Annotated[int, Field(ge=1, le=99), AfterValidator(_known_tank)]
NozzleRef = Annotated[int, Field(ge=1, le=999), AfterValidator(_known_nozzle)]
ProductRef = Annotated[str, Field(pattern=PRODUCT), AfterValidator(_known_product)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(Strict):
    """A time window of the run, [start, end)."""

    start: TimeRef
    end: TimeRef

    @model_validator(mode="after")
    def _ordered(self, info: ValidationInfo) -> Window:
        ctx = layout_of(info)
        if ctx is not None and self.resolve(ctx.start)[1] <= self.resolve(ctx.start)[0]:
            raise ValueError("end must be after start")
        return self

    def resolve(self, start: datetime) -> tuple[datetime, datetime]:
        return at_time(start, self.start), at_time(start, self.end)


def at_time(start: datetime, ref: timedelta | datetime) -> datetime:
    return start + ref if isinstance(ref, timedelta) else ref


def epoch_ms(value: datetime) -> int:
    return math.floor(value.timestamp() * 1000)
