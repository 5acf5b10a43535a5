"""Settings of the built-in simulated devices (no wire protocol; for trying a gateway out)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fuelwatch.core.devices.base import DeviceConfigBase

__all__ = ["SimulatedDispenserConfig", "SimulatedTankGaugeConfig"]


class SimulatedTankGaugeConfig(DeviceConfigBase):
    type: Literal["simulated_tank_gauge"]
    tanks: int = Field(default=4, ge=1, le=99)
    capacity: float = Field(default=30_000.0, gt=0, description="litres per tank")
    seed: int | None = None


class SimulatedDispenserConfig(DeviceConfigBase):
    type: Literal["simulated_dispenser"]
    nozzles: int = Field(default=4, ge=1, le=64)
    sale_probability: float = Field(
        default=0.2, ge=0, le=1, description="chance per nozzle per poll of a sale"
    )
    seed: int | None = None
