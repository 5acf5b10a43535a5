"""Every device type a gateway can run, by the ``type`` that selects it in a config.

``DeviceConfig`` is the discriminated union of the types' settings models, so a gateway config
is validated as a whole on load, and the management API validates a device it is given with
the same models the gateway will use. The gateway pairs each type with its adapter in
``fuelwatch.gateway.adapters.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from fuelwatch.core.devices.base import DeviceConfigBase
from fuelwatch.core.devices.modbus import ModbusConfig
from fuelwatch.core.devices.pos import PosPushConfig
from fuelwatch.core.devices.simulated import SimulatedDispenserConfig, SimulatedTankGaugeConfig
from fuelwatch.core.devices.tls350 import Tls350Config

__all__ = ["DEVICE_TYPES", "DeviceConfig", "DeviceType"]


@dataclass(frozen=True, slots=True)
class DeviceType:
    name: str  # the `type` value that selects it in a gateway config
    config: type[DeviceConfigBase]
    summary: str


_TYPES: tuple[DeviceType, ...] = (
    DeviceType(
        "simulated_tank_gauge",
        SimulatedTankGaugeConfig,
        "built-in simulated tank gauge (no wire protocol)",
    ),
    DeviceType(
        "simulated_dispenser",
        SimulatedDispenserConfig,
        "built-in simulated dispenser (no wire protocol)",
    ),
    DeviceType("tls350", Tls350Config, "Veeder-Root TLS-350 console"),
    DeviceType("pos_push", PosPushConfig, "POS 进销存 push, HTTP JSON"),
    DeviceType("modbus", ModbusConfig, "Modbus RTU/TCP, per profile"),
)

DEVICE_TYPES: dict[str, DeviceType] = {t.name: t for t in _TYPES}

if TYPE_CHECKING:
    DeviceConfig = DeviceConfigBase
else:
    DeviceConfig = Annotated[
        Union[tuple(t.config for t in _TYPES)],  # noqa: UP007 - built from the table
        Field(discriminator="type"),
    ]
