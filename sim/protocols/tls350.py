"""A Veeder-Root TLS-3xx console's side of the serial interface: commands in, replies out.

Written for the simulator from the serial interface manual 576013-635 as the project records
it (DOMAIN.md "Tank gauge protocol", docs/devices.md "Veeder-Root TLS-350"), not from the
gateway's codec, so that the gateway reading this console checks one reading of the manual
against another. Both are held to the golden frames in ``tests/data/frames/tls350/``.

What a console receives (manual section 5): ``<SOH>``, the 6-character security code if the
port has one, ``i`` (computer format) or ``I`` (display format), a 3-character function code
and a 2-digit tank number (``00`` = every tank). Commands carry no checksum.

What it answers in computer format (sections 6.1, 6.3, 7)::

    <SOH> i FFF TT  YYMMDDHHmm  data...  &&  CCCC  <ETX>

- ``FFFTT`` echoes the command, ``YYMMDDHHmm`` is the console's own (local) clock;
- ``&&`` ends the data; ``CCCC`` is 4 hex digits chosen so that the 16-bit sum of every byte
  from ``<SOH>`` through ``&&``, plus ``CCCC``, is zero;
- a number is 8 hex digits: the 4 bytes of an IEEE-754 single float, sign and exponent first
  ("00000000" is 0.0 by the manual's convention, so -0.0 is sent as that too);
- a command the console does not understand gets ``<SOH>9999FF1B<ETX>``: ``FF1B`` is the same
  checksum, taken over ``<SOH>9999`` (there is no ``&&`` in it).

Data per tank (``NN`` = how many 8-digit floats follow, 2 hex digits):

- ``i201`` inventory: ``TT p ssss NN`` + volume, TC volume, ullage, height, water,
  temperature, water volume (``p`` product code, ``ssss`` status bits in hex);
- ``i202`` deliveries: ``TT p dd`` (decimal count), then per delivery start and end
  ``YYMMDDHHmm`` and ``NN`` + start volume, start TC volume, start water, start temperature,
  end volume, end TC volume, end water, end temperature, start height, end height;
- ``i205`` active alarms: ``TT nn`` (hex count) + ``nn`` alarm types, 2 decimal digits each.

A console reports in the units it is set up with: litres, millimetres and °C, or US gallons,
inches and °F. The station model is metric; ``to_console`` converts.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

from fuelwatch.core.devices.tls350 import UnitSystem
from fuelwatch.sim.state import DeliverySnapshot, TankSnapshot

__all__ = [
    "ALARMS",
    "DELIVERIES",
    "ERROR_REPLY",
    "ETX",
    "INVENTORY",
    "SOH",
    "Request",
    "alarm_reply",
    "check_security_code",
    "checksum",
    "console_clock",
    "delivery_reply",
    "frame",
    "ieee_hex",
    "inventory_reply",
    "read_request",
    "request_length",
    "to_console",
]

SOH: Final = b"\x01"
ETX: Final = b"\x03"
END_OF_DATA: Final = b"&&"

INVENTORY: Final = "201"
DELIVERIES: Final = "202"
ALARMS: Final = "205"

Quantity = Literal["volume", "length", "temperature"]

#: i201 floats, in the order the manual lists them, with what each one measures.
INVENTORY_FLOATS: Final[tuple[tuple[str, Quantity], ...]] = (
    ("volume", "volume"),
    ("tc_volume", "volume"),
    ("ullage", "volume"),
    ("height", "length"),
    ("water", "length"),
    ("temperature", "temperature"),
    ("water_volume", "volume"),
)
#: i202 floats per delivery. "water" here is the water level, a length, as in i201.
DELIVERY_FLOATS: Final[tuple[tuple[str, Quantity], ...]] = (
    ("start_volume", "volume"),
    ("start_tc_volume", "volume"),
    ("start_water", "length"),
    ("start_temperature", "temperature"),
    ("end_volume", "volume"),
    ("end_tc_volume", "volume"),
    ("end_water", "length"),
    ("end_temperature", "temperature"),
    ("start_height", "length"),
    ("end_height", "length"),
)

_CODE_LENGTH: Final = 6
_US_GALLON_L: Final = 3.785411784  # exact by definition
_INCH_MM: Final = 25.4  # exact by definition


# -- framing -----------------------------------------------------------------------------------


def checksum(data: bytes) -> int:
    """The 16-bit two's complement of the byte sum: ``sum(data) + checksum`` is 0 mod 65536."""
    return (0x10000 - sum(data) % 0x10000) % 0x10000


def frame(text: str) -> bytes:
    """``text`` (echo, clock and data, without ``<SOH>``) -> the whole reply as sent."""
    covered = SOH + text.encode("ascii") + END_OF_DATA
    return covered + b"%04X" % checksum(covered) + ETX


def _error_reply() -> bytes:
    covered = SOH + b"9999"
    return covered + b"%04X" % checksum(covered) + ETX


#: The reply to a command the console does not understand (``<SOH>9999FF1B<ETX>``).
ERROR_REPLY: Final = _error_reply()


# -- fields ------------------------------------------------------------------------------------


def ieee_hex(value: float) -> str:
    """8 hex digits: the IEEE-754 single float nearest ``value``, most significant nibble first."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be reported: the console sends finite floats")
    if value == 0:
        return "00000000"  # the manual's zero; also what -0.0 becomes
    try:
        packed = struct.pack(">f", value)
    except OverflowError as exc:
        raise ValueError(f"{value!r} is beyond the range of a single float") from exc
    return packed.hex().upper()


def _floats(values: Sequence[float]) -> str:
    return f"{len(values):02X}" + "".join(ieee_hex(v) for v in values)


def console_clock(ms: int, tz: ZoneInfo) -> str:
    """``YYMMDDHHmm``: the console's local clock at UTC milliseconds ``ms`` (minutes only)."""
    return datetime.fromtimestamp(ms // 1000, tz).strftime("%y%m%d%H%M")


def to_console(quantity: Quantity, value: float, units: UnitSystem) -> float:
    """A metric station value (L, mm, °C) as a console set up in ``units`` reports it."""
    if units is UnitSystem.METRIC:
        return value
    if quantity == "volume":
        return value / _US_GALLON_L
    if quantity == "length":
        return value / _INCH_MM
    return value * 1.8 + 32.0


def _tank(number: int) -> str:
    if not 1 <= number <= 99:
        raise ValueError(f"tank {number} cannot be reported: tanks are numbered 01 to 99")
    return f"{number:02d}"


def _product(code: str) -> str:
    if len(code) != 1 or not " " <= code <= "~":
        raise ValueError(f"product code {code!r} is not one printable ASCII character")
    return code


# -- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One command as the console understood it."""

    function: str  # 3 characters, e.g. "201"
    tank: int  # 0 = every tank
    display: bool  # "I": display format (a printed report) instead of computer format

    @property
    def echo(self) -> str:
        return f"{'I' if self.display else 'i'}{self.function}{self.tank:02d}"


def check_security_code(code: str | None) -> None:
    """A port's security code is 6 printable ASCII characters (or there is none)."""
    if code is not None and (len(code) != _CODE_LENGTH or not all(" " <= c <= "~" for c in code)):
        raise ValueError(f"security code {code!r} is not 6 printable ASCII characters")


def request_length(security_code: str | None) -> int:
    """How many bytes follow ``<SOH>`` in a command to a port with this security code."""
    return (_CODE_LENGTH if security_code else 0) + 6


def read_request(body: bytes, security_code: str | None = None) -> Request | None:
    """The bytes after ``<SOH>`` -> the request; None if the console answers the error reply
    (wrong length or security code, not ASCII, neither ``i`` nor ``I``, tank not 2 digits)."""
    if len(body) != request_length(security_code) or not body.isascii():
        return None
    text = body.decode("ascii")
    if security_code:
        given, text = text[:_CODE_LENGTH], text[_CODE_LENGTH:]
        if given != security_code:
            return None
    kind, function, tank = text[0], text[1:4], text[4:6]
    if kind not in ("i", "I") or not tank.isdigit():
        return None
    return Request(function, int(tank), display=kind == "I")


# -- replies (computer format) -----------------------------------------------------------------


def _head(function: str, tank: int, clock: str) -> str:
    return f"i{function}{tank:02d}{clock}"


def inventory_reply(
    tank: int, clock: str, tanks: Iterable[TankSnapshot], units: UnitSystem
) -> bytes:
    """``i201TT``: one record per tank in ``tanks`` (already chosen for ``tank``)."""
    parts = [_head(INVENTORY, tank, clock)]
    for t in tanks:
        if not 0 <= t.status_bits <= 0xFFFF:
            raise ValueError(f"tank {t.tank}: status {t.status_bits:#x} is not 4 hex digits")
        values = [to_console(q, getattr(t, name), units) for name, q in INVENTORY_FLOATS]
        parts.append(f"{_tank(t.tank)}{_product(t.product_code)}{t.status_bits:04X}")
        parts.append(_floats(values))
    return frame("".join(parts))


def delivery_reply(
    tank: int,
    clock: str,
    tanks: Iterable[tuple[TankSnapshot, Sequence[DeliverySnapshot]]],
    units: UnitSystem,
    tz: ZoneInfo,
) -> bytes:
    """``i202TT``: per tank its product code and its deliveries, oldest first."""
    parts = [_head(DELIVERIES, tank, clock)]
    for t, deliveries in tanks:
        if len(deliveries) > 99:
            raise ValueError(f"tank {t.tank}: {len(deliveries)} deliveries, a report holds 99")
        parts.append(f"{_tank(t.tank)}{_product(t.product_code)}{len(deliveries):02d}")
        for d in deliveries:
            values = [to_console(q, getattr(d, name), units) for name, q in DELIVERY_FLOATS]
            parts.append(console_clock(d.start, tz) + console_clock(d.end, tz))
            parts.append(_floats(values))
    return frame("".join(parts))


def alarm_reply(tank: int, clock: str, tanks: Iterable[tuple[int, Sequence[int]]]) -> bytes:
    """``i205TT``: per tank the alarm types active now."""
    parts = [_head(ALARMS, tank, clock)]
    for number, types in tanks:
        if len(types) > 0xFF or not all(0 <= a <= 99 for a in types):
            raise ValueError(f"tank {number}: alarm types {list(types)} do not fit the report")
        parts.append(f"{_tank(number)}{len(types):02X}" + "".join(f"{a:02d}" for a in types))
    return frame("".join(parts))
