"""Modbus RTU / TCP devices described by profiles (``firmware_configs/*.yaml``).

``profile`` is the profile schema, ``codec`` turns registers into values and back (shared with
the simulator), ``interpret`` turns values into records, ``adapter`` does the I/O.
"""

from gateway.adapters.modbus.adapter import ModbusAdapter
from gateway.adapters.modbus.config import ModbusConfig
from gateway.adapters.modbus.profile import Profile, load_profile

__all__ = ["ModbusAdapter", "ModbusConfig", "Profile", "load_profile"]
