"""The one place adapters are registered: each device type of the catalogue with its adapter.

To add a device type, add its settings model to ``fuelwatch.core.devices.catalogue`` and its
adapter here; a gateway refuses to start if the two tables disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fuelwatch.core.devices.base import DeviceConfigBase
from fuelwatch.core.devices.catalogue import DEVICE_TYPES, DeviceConfig
from fuelwatch.gateway.adapters import modbus, pos, simulated
from fuelwatch.gateway.adapters.base import Adapter, AdapterContext
from fuelwatch.gateway.adapters.tls350 import adapter as tls350

__all__ = ["ADAPTERS", "DeviceConfig", "build_adapter"]

AdapterFactory = Callable[[Any, AdapterContext], Adapter]

ADAPTERS: dict[str, AdapterFactory] = {
    "simulated_tank_gauge": simulated.SimulatedTankGauge,
    "simulated_dispenser": simulated.SimulatedDispenser,
    "tls350": tls350.Tls350Adapter,
    "pos_push": pos.PosPushAdapter,
    "modbus": modbus.ModbusAdapter,
}

if ADAPTERS.keys() != DEVICE_TYPES.keys():  # pragma: no cover - a programming error
    raise RuntimeError(
        f"device types without an adapter or adapters without a type: "
        f"{sorted(ADAPTERS.keys() ^ DEVICE_TYPES.keys())}"
    )


def build_adapter(config: DeviceConfigBase, ctx: AdapterContext) -> Adapter:
    factory = ADAPTERS[getattr(config, "type")]  # noqa: B009 - every registered config has `type`
    return factory(config, ctx)
