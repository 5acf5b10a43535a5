"""Modbus RTU / TCP devices described by profiles (``firmware_configs/*.yaml``).

The profile schema and the device settings are shared data (``fuelwatch.core.devices``);
``codec`` turns registers into values, ``interpret`` turns values into records, ``adapter``
does the I/O.
"""

from fuelwatch.gateway.adapters.modbus.adapter import ModbusAdapter

__all__ = ["ModbusAdapter"]
