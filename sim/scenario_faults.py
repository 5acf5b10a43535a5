"""The fraud and fault injections a scenario can schedule (``injections:`` in the YAML)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    model_validator,
)

from fuelwatch.sim.scenario_refs import (
    NozzleRef,
    ProductRef,
    Strict,
    TankRef,
    TimeRef,
    Window,
    layout_of,
)

__all__ = [
    "ClockSkew",
    "DeclaredCapacity",
    "DeliveryMismatch",
    "GatewayUnplugged",
    "Injection",
    "Leak",
    "OffbookBypass",
    "OverRegistration",
    "PosOmission",
    "PriceOutOfRange",
    "TotalizerJump",
    "UnregisteredDelivery",
]


# -- fraud injections ------------------------------------------------------------------------


def _hours(value: object) -> object:
    if value is None or isinstance(value, tuple | list):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
        if match:
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            return (h1 * 60 + m1, h2 * 60 + m2)
    raise ValueError(f"{value!r}: write daily hours as a quoted 'HH:MM-HH:MM'")


def _minutes_ok(value: tuple[int, int] | None) -> tuple[int, int] | None:
    if value is not None and (not all(0 <= v <= 1440 for v in value) or value[0] == value[1]):
        raise ValueError("daily hours must be two different times of day")
    return value


def _nonzero(value: float) -> float:
    if value == 0:
        raise ValueError("must not be 0")
    return value


NonZero = Annotated[float, AfterValidator(_nonzero)]
DailyHours = Annotated[tuple[int, int] | None, BeforeValidator(_hours), AfterValidator(_minutes_ok)]


class _Windowed(Strict):
    windows: list[Window] = Field(min_length=1)
    hours: DailyHours = Field(default=None, description="only between these local times")


class OverRegistration(_Windowed):
    """Pulse / K-factor tampering: the meter registers ``percent`` more than it delivers."""

    kind: Literal["over_registration"]
    nozzle: NozzleRef
    percent: float = Field(gt=0, le=50)


class OffbookBypass(_Windowed):
    """Fuel sold through a bypass: the tank drops, no dispenser or POS record, no totalizer."""

    kind: Literal["offbook_bypass"]
    tank: TankRef
    sales_per_day: float = Field(gt=0, le=5000)


class PosOmission(_Windowed):
    """The dispenser records the sale; the POS push leaves it out (sales under-declared)."""

    kind: Literal["pos_omission"]
    share: float = Field(gt=0, le=1)
    nozzle: NozzleRef | None = None


class TotalizerJump(Strict):
    """The volume totalizer jumps forward (board swap, data tampering)."""

    kind: Literal["totalizer_jump", "totalizer_rollback"]
    nozzle: NozzleRef
    litres: float = Field(gt=0, le=1e7)
    at: TimeRef


class UnregisteredDelivery(Strict):
    """A tanker unloads with no e-waybill and no declaration (私自收油)."""

    kind: Literal["unregistered_delivery"]
    tank: TankRef
    litres: float = Field(gt=0, le=60000, description="at 20 °C")
    at: TimeRef


class DeliveryMismatch(_Windowed):
    """Deliveries arriving in the windows put ``percent`` more (or less) in than the waybill."""

    kind: Literal["delivery_mismatch"]
    tank: TankRef
    percent: NonZero = Field(ge=-50, le=50)


class DeclaredCapacity(Strict):
    """The station registry declares a capacity other than the real tank's (虚报罐容)."""

    kind: Literal["declared_capacity"]
    tank: TankRef
    declared_litres: float = Field(gt=100, le=200000)
    gauge_table: Literal["real", "declared"] = Field(
        default="real", description="declared: the gauge is set up with the declared table too"
    )


class Leak(_Windowed):
    kind: Literal["leak"]
    tank: TankRef
    litres_per_hour: float = Field(gt=0, le=1000)


class GatewayUnplugged(_Windowed):
    """The gateway is off: devices unreachable, no feed; the POS pushes its backlog later."""

    kind: Literal["gateway_unplugged"]


class ClockSkew(_Windowed):
    kind: Literal["clock_skew"]
    device: Literal["gauge", "dispenser", "pos"]
    offset_seconds: NonZero = Field(ge=-86400 * 366, le=86400 * 366)


class PriceOutOfRange(_Windowed):
    kind: Literal["price_out_of_range"]
    product: ProductRef
    price: float = Field(gt=0, le=100)

    @model_validator(mode="after")
    def _outside(self, info: ValidationInfo) -> PriceOutOfRange:
        ctx = layout_of(info)
        if ctx is not None and self.product in ctx.products:
            low, high = ctx.products[self.product].permitted
            if low <= self.price <= high:
                raise ValueError(f"price {self.price} is inside the permitted range {low}..{high}")
        return self


Injection = Annotated[
    OverRegistration
    | OffbookBypass
    | PosOmission
    | TotalizerJump
    | UnregisteredDelivery
    | DeliveryMismatch
    | DeclaredCapacity
    | Leak
    | GatewayUnplugged
    | ClockSkew
    | PriceOutOfRange,
    Field(discriminator="kind"),
]
