"""What can go wrong talking Modbus, as ``DeviceError`` subclasses ``PollingAdapter`` reports."""

from __future__ import annotations

from fuelwatch.gateway.adapters.base import DeviceError

__all__ = [
    "EXCEPTION_NAMES",
    "ModbusBadReply",
    "ModbusDeviceError",
    "ModbusExceptionReply",
    "ModbusTimeout",
    "ModbusUnreachable",
]

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ModbusDeviceError(DeviceError):
    """A Modbus device fault; the message names the device's address."""


class ModbusUnreachable(ModbusDeviceError):
    """No connection: TCP connect refused or timed out, serial port missing, link dropped."""


class ModbusTimeout(ModbusDeviceError):
    """Connected, but the device did not answer a request in time."""


class ModbusExceptionReply(ModbusDeviceError):
    """The device answered with a Modbus exception response."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class ModbusBadReply(ModbusDeviceError):
    """A reply we cannot use: wrong length, undecodable frame."""
