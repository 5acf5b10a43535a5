"""The one place adapters are registered. To add a device type, add its spec to ``_SPECS``.

Config chooses an adapter by its ``type``; ``DeviceConfig`` is the discriminated union of every
registered adapter's settings model, so a gateway config is validated as a whole on load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from gateway.adapters import modbus, pos, simulated
from gateway.adapters.base import Adapter, AdapterContext, DeviceConfigBase
from gateway.adapters.tls350 import adapter as tls350

__all__ = ["ADAPTERS", "AdapterSpec", "DeviceConfig", "build_adapter"]


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    name: str  # the `type` value that selects this adapter in a gateway config
    config: type[DeviceConfigBase]
    factory: Callable[[Any, AdapterContext], Adapter]
    summary: str


_SPECS: tuple[AdapterSpec, ...] = (
    AdapterSpec(
        "simulated_tank_gauge",
        simulated.SimulatedTankGaugeConfig,
        simulated.SimulatedTankGauge,
        "built-in simulated tank gauge (no wire protocol)",
    ),
    AdapterSpec(
        "simulated_dispenser",
        simulated.SimulatedDispenserConfig,
        simulated.SimulatedDispenser,
        "built-in simulated dispenser (no wire protocol)",
    ),
    AdapterSpec("tls350", tls350.Tls350Config, tls350.Tls350Adapter, "Veeder-Root TLS-350 console"),
    AdapterSpec("pos_push", pos.PosPushConfig, pos.PosPushAdapter, "POS 进销存 push, HTTP JSON"),
    AdapterSpec("modbus", modbus.ModbusConfig, modbus.ModbusAdapter, "Modbus RTU/TCP, per profile"),
)

ADAPTERS: dict[str, AdapterSpec] = {spec.name: spec for spec in _SPECS}

if TYPE_CHECKING:
    DeviceConfig = DeviceConfigBase
else:
    DeviceConfig = Annotated[
        Union[tuple(spec.config for spec in _SPECS)],  # noqa: UP007 - built from the table
        Field(discriminator="type"),
    ]


def build_adapter(config: DeviceConfigBase, ctx: AdapterContext) -> Adapter:
    spec = ADAPTERS[getattr(config, "type")]  # noqa: B009 - every registered config has `type`
    return spec.factory(config, ctx)
