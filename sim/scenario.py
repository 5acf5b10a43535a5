"""Scenario files: one YAML document describes a station, how long to run it, and what fraud
to inject when (see docs/simulator.md for the format and examples).

Loading runs two passes: the first checks each section on its own; the second re-validates
with the layout as context, so a reference to a tank, nozzle or product that does not exist,
or a time outside the run, is reported at its own line and field
(``scenario.yaml:41: injections[2].nozzle: no nozzle 9 in dispensers``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fuelwatch.core.config import load_yaml, validate_yaml_model
from fuelwatch.sim.scenario_faults import Injection
from fuelwatch.sim.scenario_refs import (
    PRODUCT,
    SEGMENT,
    Duration,
    LayoutContext,
    ProductRef,
    Strict,
    TankRef,
    Window,
    at_time,
    epoch_ms,
    layout_of,
)

__all__ = [
    "ClimateSpec",
    "CustomerSpec",
    "DeliverySpec",
    "DispenserSpec",
    "FeedSpec",
    "GaugeSpec",
    "Injection",
    "NozzleSpec",
    "ProductSpec",
    "Scenario",
    "StationSpec",
    "TankSpec",
    "Window",
    "load_scenario",
    "parse_scenario",
]


# Cubic thermal expansion coefficients near 15-20 °C, per °C. GB/T 1885 tabulates volume
# correction factors by density; these single coefficients are the usual retail
# approximation (gasoline ~ 0.0012, diesel ~ 0.00083).
EXPANSION = {"gasoline": 0.0012, "diesel": 0.00083}
# Breathing/evaporation loss of a buried tank, fraction of stock per day: an assumption of
# the right order (a few tens of litres a month on a full 30 m3 tank), not a standard's value.
EVAPORATION = {"gasoline": 1e-5, "diesel": 0.0}
FILL_MEAN = {"gasoline": 32.0, "diesel": 70.0}


# -- station layout --------------------------------------------------------------------------


class StationSpec(Strict):
    id: str = Field(pattern=SEGMENT)
    name: str = ""
    district: str = Field(default="sim", pattern=SEGMENT)


class ProductSpec(Strict):
    kind: Literal["gasoline", "diesel"]
    tls_code: str = Field(pattern=r"^[0-9A-Za-z]$", description="1-char TLS-350 product code")
    price: float = Field(gt=0, le=100, description="yuan per litre")
    price_min: float | None = Field(default=None, gt=0, description="permitted range, yuan/L")
    price_max: float | None = Field(default=None, gt=0, description="ceiling price, yuan/L")
    expansion: float | None = Field(default=None, gt=0, lt=0.003, description="per °C")
    evaporation_per_day: float | None = Field(default=None, ge=0, lt=0.01)
    fill_mean_litres: float | None = Field(default=None, gt=1, le=500)

    @model_validator(mode="after")
    def _price_in_range(self) -> ProductSpec:
        low, high = self.permitted
        if not low <= self.price <= high:
            raise ValueError(f"price {self.price} is outside the permitted range {low}..{high}")
        return self

    @property
    def permitted(self) -> tuple[float, float]:
        """The permitted retail price range (the ceiling is the NDRC maximum retail price)."""
        low = self.price_min if self.price_min is not None else round(self.price * 0.85, 2)
        high = self.price_max if self.price_max is not None else round(self.price * 1.05, 2)
        return low, high

    @property
    def beta(self) -> float:
        return self.expansion if self.expansion is not None else EXPANSION[self.kind]

    @property
    def evaporation(self) -> float:
        if self.evaporation_per_day is not None:
            return self.evaporation_per_day
        return EVAPORATION[self.kind]

    @property
    def fill_mean(self) -> float:
        return self.fill_mean_litres if self.fill_mean_litres is not None else FILL_MEAN[self.kind]


class TankSpec(Strict):
    tank: int = Field(ge=1, le=99)
    product: ProductRef
    diameter_mm: float = Field(ge=500, le=4000)
    length_mm: float = Field(ge=500, le=20000, description="cylindrical shell, without heads")
    head_depth_mm: float = Field(default=0.0, ge=0, le=2000, description="0 = flat ends")
    initial_fill: float = Field(default=0.6, gt=0, lt=0.95, description="fraction of capacity")
    water_mm: float = Field(default=0.0, ge=0, le=500, description="initial water bottom")
    water_ingress_litres_per_day: float = Field(default=0.0, ge=0, le=1000)


class NozzleSpec(Strict):
    nozzle: int = Field(ge=1, le=999)
    tank: TankRef
    meter_error: float | None = Field(
        default=None, ge=-0.003, le=0.003, description="fixed relative error; default drawn"
    )


class DispenserSpec(Strict):
    dispenser: int = Field(ge=1, le=99)
    nozzles: list[NozzleSpec] = Field(min_length=1, max_length=8)


DEFAULT_PROFILE = (
    0.25, 0.15, 0.10, 0.10, 0.15, 0.35, 0.80, 1.40, 1.70, 1.40, 1.10, 1.00,
    1.00, 0.95, 0.90, 1.00, 1.20, 1.50, 1.70, 1.40, 1.00, 0.75, 0.55, 0.40,
)  # fmt: skip


class CustomerSpec(Strict):
    sales_per_day: float = Field(default=400.0, gt=0, le=20000)
    product_mix: dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        default=None, description="relative weights; default: by number of nozzles"
    )
    daily_profile: tuple[float, ...] = Field(
        default=DEFAULT_PROFILE, description="24 relative hourly rates, local time"
    )
    weekend_factor: float = Field(default=1.1, gt=0, le=5)
    preset_share: float = Field(default=0.4, ge=0, le=1, description="pay a round amount")
    discount_share: float = Field(default=0.0, ge=0, le=1)
    discount_per_litre: float = Field(default=0.0, ge=0, le=2)

    @field_validator("daily_profile")
    @classmethod
    def _profile(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if len(value) != 24 or min(value) < 0 or max(value) <= 0:
            raise ValueError("daily_profile needs 24 non-negative hourly weights, not all 0")
        return value

    @field_validator("product_mix")
    @classmethod
    def _mix(cls, value: dict[str, float] | None, info: ValidationInfo) -> dict[str, float] | None:
        ctx = layout_of(info)
        if ctx is not None and value is not None:
            for product in value:
                if product not in ctx.products:
                    raise ValueError(f"no product {product!r} in products")
                if product not in ctx.served:
                    raise ValueError(f"no nozzle sells product {product!r}")
        return value


class DeliverySpec(Strict):
    reorder_fraction: float = Field(default=0.35, gt=0, lt=0.9)
    fill_fraction: float = Field(default=0.85, gt=0.1, le=0.95)
    lead_time_hours: tuple[float, float] = (2.0, 8.0)
    travel_time_hours: tuple[float, float] = (0.5, 2.0)
    unload_litres_per_minute: float = Field(default=500.0, gt=50, le=3000)
    round_litres: float = Field(default=1000.0, gt=0, le=10000)
    min_litres: float = Field(default=4000.0, gt=0)
    depot_temperature_offset: float = Field(default=2.0, ge=-20, le=20)
    supplier: str = "depot"


class GaugeSpec(Strict):
    height_noise_mm: float = Field(default=0.3, ge=0, le=20)
    height_resolution_mm: float = Field(default=0.1, gt=0, le=10)
    temperature_noise: float = Field(default=0.03, ge=0, le=2)
    temperature_resolution: float = Field(default=0.01, gt=0, le=1)
    strapping_step_mm: float = Field(default=10.0, ge=1, le=200)
    settle_minutes: float = Field(default=10.0, ge=0, le=120, description="delivery end delay")
    history: int = Field(default=10, ge=1, le=100, description="deliveries kept per tank")
    high_water_mm: float = 50.0
    high_water_warning_mm: float = 30.0
    overfill_fraction: float = 0.90
    high_product_fraction: float = 0.95
    low_product_fraction: float = 0.10
    delivery_needed_fraction: float = 0.20


class ClimateSpec(Strict):
    ground_mean: float = Field(default=14.0, ge=-20, le=40, description="°C at tank depth")
    seasonal_amplitude: float = Field(default=8.0, ge=0, le=25)
    warmest_day: int = Field(default=220, ge=1, le=366, description="day of year")
    daily_amplitude: float = Field(default=0.2, ge=0, le=5)
    product_time_constant_hours: float = Field(
        default=24.0, gt=0, le=1000, description="bulk product toward the ground, full tank"
    )
    # a delivered load does not mix at once: it layers (warmer product floats), then mixes
    stratification_fraction: float = Field(default=0.6, ge=0, le=1)
    mixing_time_constant_hours: float = Field(default=4.0, gt=0, le=200)
    # the gauge's multi-point probe: equally weighted sensors over-weight the thin top and
    # bottom slices of a horizontal cylinder (a share of the layering shows), and it lags
    probe_stratification_weight: float = Field(default=0.4, ge=0, le=1)
    probe_time_constant_hours: float = Field(default=0.5, gt=0, le=24)
    probe_daily_amplitude: float = Field(
        default=0.05, ge=0, le=2, description="°C: the warm day reaches the top sensors"
    )


class FeedSpec(Strict):
    """How often the station's systems and the gateway act (simulated seconds)."""

    inventory_interval: Duration = timedelta(seconds=60)
    totalizer_interval: Duration = timedelta(seconds=300)
    pos_push_interval: Duration = timedelta(seconds=60)
    pos_inventory_hour: int = Field(default=0, ge=0, le=23, description="daily stock, local")


# -- the scenario ----------------------------------------------------------------------------


class Scenario(Strict):
    station: StationSpec
    seed: int = 0
    start: datetime
    duration: Duration
    speed: float = Field(default=60.0, gt=0, le=1e6, description="simulated s per wall s")
    meter_error_max: float = Field(
        default=0.002, ge=0, le=0.003, description="drawn meter errors stay within ±this"
    )
    products: dict[Annotated[str, Field(pattern=PRODUCT)], ProductSpec] = Field(min_length=1)
    tanks: list[TankSpec] = Field(min_length=1, max_length=99)
    dispensers: list[DispenserSpec] = Field(min_length=1, max_length=99)
    customers: CustomerSpec = CustomerSpec()
    deliveries: DeliverySpec = DeliverySpec()
    gauge: GaugeSpec = GaugeSpec()
    climate: ClimateSpec = ClimateSpec()
    feed: FeedSpec = FeedSpec()
    injections: list[Injection] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a UTC offset, e.g. 2025-03-01T00:00:00+08:00")
        return value

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=3660):
            raise ValueError("duration must be between 1 minute and 10 years")
        return value

    @field_validator("tanks")
    @classmethod
    def _unique_tanks(cls, value: list[TankSpec]) -> list[TankSpec]:
        seen: set[int] = set()
        for spec in value:
            if spec.tank in seen:
                raise ValueError(f"tank {spec.tank} appears twice")
            seen.add(spec.tank)
        return value

    @field_validator("dispensers")
    @classmethod
    def _unique_nozzles(cls, value: list[DispenserSpec]) -> list[DispenserSpec]:
        pumps: set[int] = set()
        nozzles: set[int] = set()
        for spec in value:
            if spec.dispenser in pumps:
                raise ValueError(f"dispenser {spec.dispenser} appears twice")
            pumps.add(spec.dispenser)
            for nozzle in spec.nozzles:
                if nozzle.nozzle in nozzles:
                    raise ValueError(f"nozzle {nozzle.nozzle} appears twice")
                nozzles.add(nozzle.nozzle)
        return value

    # -- derived -------------------------------------------------------------------------

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    @property
    def start_ms(self) -> int:
        return epoch_ms(self.start)

    @property
    def end_ms(self) -> int:
        return epoch_ms(self.end)

    @property
    def utc_offset_s(self) -> int:
        offset = self.start.utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def at_ms(self, ref: timedelta | datetime) -> int:
        return epoch_ms(at_time(self.start, ref))

    def nozzles(self) -> list[tuple[int, NozzleSpec]]:
        """(dispenser, nozzle spec) for every nozzle, in file order."""
        return [(d.dispenser, n) for d in self.dispensers for n in d.nozzles]

    def tank(self, number: int) -> TankSpec:
        return next(t for t in self.tanks if t.tank == number)


def _layout(scenario: Scenario) -> LayoutContext:
    tanks = {t.tank: t.product for t in scenario.tanks}
    return LayoutContext(
        start=scenario.start,
        end=scenario.end,
        products=dict(scenario.products),
        tanks=tanks,
        nozzles={n.nozzle for _, n in scenario.nozzles()},
        served={tanks[n.tank] for _, n in scenario.nozzles() if n.tank in tanks},
    )


def parse_scenario(data: Any, node: Any = None, path: Path | str = "<scenario>") -> Scenario:
    """Validate already-loaded YAML data (both passes); errors raise ``ConfigError``."""
    path = Path(path)
    first = validate_yaml_model(Scenario, data, node, path)
    return validate_yaml_model(Scenario, data, node, path, context=_layout(first))


def load_scenario(path: Path | str) -> Scenario:
    path = Path(path)
    data, node = load_yaml(path)
    return parse_scenario(data, node, path)
