"""Veeder-Root TLS-3xx serial interface, computer format: bytes <-> typed reports. No I/O.

Layout per the TLS-300/350 serial interface manual 576013-635 (sections 5-7):

- command: ``<SOH>`` [6-char security code] ``i`` + 3-char function + 2-digit tank (``00`` = all);
- reply: ``<SOH>`` + the echoed ``iFFFTT`` + ``YYMMDDHHmm`` (console clock) + data + ``&&`` + 4 hex
  checksum + ``<ETX>``. The checksum makes the 16-bit sum of every byte from ``<SOH>`` through
  ``&&`` plus the checksum zero. A console that does not understand a command answers
  ``<SOH>9999FF1B<ETX>`` (``FF1B`` is the same checksum, taken over ``<SOH>9999``);
- numbers are ASCII hex of big-endian IEEE-754 single floats, 8 characters each, in the
  console's configured units (``UnitSystem``).

Function layouts (``NN`` = number of 8-char float fields that follow, hex):

- ``i201``: per tank ``TT p ssss NN`` + volume, TC volume, ullage, height, water, temperature,
  water volume;
- ``i202``: per tank ``TT p dd`` (deliveries, decimal), then per delivery start ``YYMMDDHHmm``,
  end ``YYMMDDHHmm``, ``NN`` + start volume, start TC volume, start water, start temperature,
  end volume, end TC volume, end water, end temperature, start height, end height;
- ``i205``: per tank ``TT nn`` (active alarms, hex) + ``nn`` two-digit alarm types.

A console may append fields after the documented ones (``NN`` larger than documented); they are
skipped. Fewer than documented is an error. Every way a reply can be malformed raises its own
``Tls350Error`` subclass (``errors``), so a log line says what was wrong with which reply.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, Literal
from zoneinfo import ZoneInfo

from fuelwatch.core.devices.tls350 import UnitSystem
from fuelwatch.gateway.adapters.tls350.errors import (
    BadFieldError,
    BadHexError,
    ChecksumError,
    CommandRejectedError,
    EchoMismatchError,
    FieldCountError,
    MissingEtxError,
    MissingSohError,
    TruncatedFrameError,
)

__all__ = [
    "ALARM_TYPES",
    "DELIVERY_FIELDS",
    "ERROR_REPLY",
    "ETX",
    "FIELD_QUANTITY",
    "INVENTORY_FIELDS",
    "SOH",
    "AlarmReport",
    "AlarmType",
    "Command",
    "Delivery",
    "DeliveryReport",
    "Function",
    "InventoryReport",
    "TankAlarms",
    "TankDeliveries",
    "TankInventory",
    "build_command",
    "checksum",
    "device_time",
    "encode_alarms",
    "encode_deliveries",
    "encode_inventory",
    "frame",
    "from_metric",
    "parse_alarms",
    "parse_command",
    "parse_deliveries",
    "parse_inventory",
    "to_metric",
    "to_utc_ms",
    "unframe",
]

SOH: Final = b"\x01"
ETX: Final = b"\x03"
SEPARATOR: Final = b"&&"
ERROR_REPLY: Final = b"\x019999FF1B\x03"
SECURITY_CODE_LEN: Final = 6
_FLOAT_LEN: Final = 8
_TIME_LEN: Final = 10


class Function(StrEnum):
    INVENTORY = "201"
    DELIVERIES = "202"
    ALARMS = "205"


INVENTORY_FIELDS: Final = (
    "volume",
    "tc_volume",
    "ullage",
    "height",
    "water",
    "temperature",
    "water_volume",
)
DELIVERY_FIELDS: Final = (
    "start_volume",
    "start_tc_volume",
    "start_water",
    "start_temperature",
    "end_volume",
    "end_tc_volume",
    "end_water",
    "end_temperature",
    "start_height",
    "end_height",
)

# ---------------------------------------------------------------------------------------------
# units


Quantity = Literal["volume", "length", "temperature"]

FIELD_QUANTITY: Final[dict[str, Quantity]] = {
    "volume": "volume",
    "tc_volume": "volume",
    "ullage": "volume",
    "height": "length",
    "water": "length",
    "temperature": "temperature",
    "water_volume": "volume",
    "start_volume": "volume",
    "start_tc_volume": "volume",
    "start_water": "length",  # water level, like i201 "water"
    "start_temperature": "temperature",
    "end_volume": "volume",
    "end_tc_volume": "volume",
    "end_water": "length",
    "end_temperature": "temperature",
    "start_height": "length",
    "end_height": "length",
}

LITRES_PER_US_GALLON: Final = 3.785411784
MM_PER_INCH: Final = 25.4
# A single float carries ~7 significant digits: 0.001 keeps all of them for station tanks and
# drops the binary noise (12345.6 arrives as 12345.599609375).
_DECIMALS: Final = 3


def to_metric(quantity: Quantity, value: float, units: UnitSystem) -> float:
    """A console value in ``units`` -> litres / mm / °C, rounded to 0.001."""
    if units is UnitSystem.US:
        if quantity == "volume":
            value *= LITRES_PER_US_GALLON
        elif quantity == "length":
            value *= MM_PER_INCH
        else:
            value = (value - 32.0) * 5.0 / 9.0
    return round(value, _DECIMALS)


def from_metric(quantity: Quantity, value: float, units: UnitSystem) -> float:
    """Litres / mm / °C -> what a console set up in ``units`` reports."""
    if units is UnitSystem.METRIC:
        return value
    if quantity == "volume":
        return value / LITRES_PER_US_GALLON
    if quantity == "length":
        return value / MM_PER_INCH
    return value * 9.0 / 5.0 + 32.0


# ---------------------------------------------------------------------------------------------
# alarm types (function 205 "AA", also used by 101/111)


@dataclass(frozen=True, slots=True)
class AlarmType:
    code: str  # our AlarmRecord.code
    name: str  # as the manual prints it
    severity: Literal["info", "warning", "critical"]


ALARM_TYPES: Final[dict[int, AlarmType]] = {
    1: AlarmType("setup_data_warning", "Tank Setup Data Warning", "warning"),
    2: AlarmType("tank_leak", "Tank Leak Alarm", "critical"),
    3: AlarmType("high_water", "Tank High Water Alarm", "critical"),
    4: AlarmType("overfill", "Tank Overfill Alarm", "critical"),
    5: AlarmType("low_product", "Tank Low Product Alarm", "warning"),
    6: AlarmType("sudden_loss", "Tank Sudden Loss Alarm", "critical"),
    7: AlarmType("high_product", "Tank High Product Alarm", "warning"),
    8: AlarmType("invalid_fuel_level", "Tank Invalid Fuel Level Alarm", "warning"),
    9: AlarmType("probe_out", "Tank Probe Out Alarm", "critical"),
    10: AlarmType("high_water_warning", "Tank High Water Warning", "warning"),
    11: AlarmType("delivery_needed", "Tank Delivery Needed Warning", "info"),
    12: AlarmType("max_product", "Tank Maximum Product Alarm", "critical"),
    13: AlarmType("gross_leak_test_fail", "Tank Gross Leak Test Fail Alarm", "critical"),
    14: AlarmType("periodic_leak_test_fail", "Tank Periodic Leak Test Fail Alarm", "critical"),
    15: AlarmType("annual_leak_test_fail", "Tank Annual Leak Test Fail Alarm", "critical"),
    16: AlarmType("periodic_test_needed_warning", "Tank Periodic Test Needed Warning", "warning"),
    17: AlarmType("annual_test_needed_warning", "Tank Annual Test Needed Warning", "warning"),
    18: AlarmType("periodic_test_needed_alarm", "Tank Periodic Test Needed Alarm", "warning"),
    27: AlarmType("cold_temperature_warning", "Tank Cold Temperature Warning", "warning"),
}


def alarm_type(number: int) -> AlarmType:
    """The manual's alarm, or a generic one for a type this table does not know."""
    known = ALARM_TYPES.get(number)
    if known is not None:
        return known
    return AlarmType(f"tank_alarm_{number:02d}", f"Tank Alarm Type {number:02d}", "warning")


# ---------------------------------------------------------------------------------------------
# reports


@dataclass(frozen=True, slots=True)
class TankInventory:
    tank: int
    product_code: str
    status: int
    volume: float
    tc_volume: float
    ullage: float
    height: float
    water: float
    temperature: float
    water_volume: float


@dataclass(frozen=True, slots=True)
class InventoryReport:
    time: datetime  # console clock, naive local time, minute resolution
    tanks: tuple[TankInventory, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    start: datetime  # console clock, naive local time
    end: datetime
    start_volume: float
    start_tc_volume: float
    start_water: float
    start_temperature: float
    end_volume: float
    end_tc_volume: float
    end_water: float
    end_temperature: float
    start_height: float
    end_height: float


@dataclass(frozen=True, slots=True)
class TankDeliveries:
    tank: int
    product_code: str
    deliveries: tuple[Delivery, ...]


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    time: datetime
    tanks: tuple[TankDeliveries, ...]


@dataclass(frozen=True, slots=True)
class TankAlarms:
    tank: int
    alarms: tuple[int, ...]  # alarm types, see ALARM_TYPES


@dataclass(frozen=True, slots=True)
class AlarmReport:
    time: datetime
    tanks: tuple[TankAlarms, ...]


# ---------------------------------------------------------------------------------------------
# time


def device_time(ms: int, tz: ZoneInfo) -> datetime:
    """UTC milliseconds -> the naive local minute a console in ``tz`` would print."""
    local = datetime.fromtimestamp(ms / 1000, tz)
    return local.replace(second=0, microsecond=0, tzinfo=None)


def to_utc_ms(local: datetime, tz: ZoneInfo) -> int:
    """A console's naive local time -> UTC milliseconds."""
    return int(local.replace(tzinfo=tz).astimezone(UTC).timestamp()) * 1000


# ---------------------------------------------------------------------------------------------
# commands


@dataclass(frozen=True, slots=True)
class Command:
    function: str  # 3 characters, e.g. "201"
    tank: int  # 0 = all
    security_code: str | None = None
    display: bool = False  # "I" (display format) instead of "i"

    @property
    def echo(self) -> str:
        return f"{'I' if self.display else 'i'}{self.function}{self.tank:02d}"


def _check_code(security_code: str | None) -> None:
    if security_code is not None and (
        len(security_code) != SECURITY_CODE_LEN
        or not all(0x20 <= ord(c) <= 0x7E for c in security_code)
    ):
        raise ValueError("a TLS-350 security code is 6 printable ASCII characters")


def build_command(function: str, tank: int = 0, *, security_code: str | None = None) -> bytes:
    """``<SOH>`` [code] ``i`` function tank, computer format. Commands carry no checksum."""
    if len(function) != 3 or not function.isascii() or not function.isalnum():
        raise ValueError(f"function code {function!r} is not 3 ASCII letters or digits")
    if not 0 <= tank <= 99:
        raise ValueError(f"tank {tank} is outside 0..99")
    _check_code(security_code)
    return SOH + f"{security_code or ''}i{function}{tank:02d}".encode("ascii")


def command_length(security_code: str | None) -> int:
    """Bytes after ``<SOH>`` in a command, for a console set up with ``security_code``."""
    return 6 + (SECURITY_CODE_LEN if security_code else 0)


def parse_command(data: bytes, *, security_code: str | None = None) -> Command:
    """The console side: ``<SOH>`` + exactly ``command_length`` bytes -> ``Command``.

    Raises ``Tls350Error`` for anything the console would answer with the error reply.
    """
    if not data.startswith(SOH):
        raise MissingSohError("command does not start with SOH", data)
    body = data[1:]
    if len(body) != command_length(security_code):
        raise TruncatedFrameError(f"command has {len(body)} bytes after SOH", data)
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise BadFieldError("command is not ASCII", data) from exc
    code = text[:SECURITY_CODE_LEN] if security_code else None
    if security_code and code != security_code:
        raise CommandRejectedError("wrong security code", data)
    rest = text[SECURITY_CODE_LEN:] if security_code else text
    kind, function, tank = rest[0], rest[1:4], rest[4:6]
    if kind not in "iI":
        raise BadFieldError(f"command type {kind!r} is not i or I", data)
    if not tank.isdigit():
        raise BadFieldError(f"tank {tank!r} is not two digits", data)
    return Command(function, int(tank), code, display=kind == "I")


# ---------------------------------------------------------------------------------------------
# framing


def checksum(data: bytes) -> int:
    """The 16-bit value that makes ``sum(data) + value`` a multiple of 65536."""
    return -sum(data) & 0xFFFF


def frame(body: str) -> bytes:
    """``body`` (``i201TT...``, without SOH) -> a complete reply with checksum and ETX."""
    head = SOH + body.encode("ascii") + SEPARATOR
    return head + f"{checksum(head):04X}".encode("ascii") + ETX


def unframe(data: bytes, command: Command) -> str:
    """Check a reply's envelope against the command it answers; return the data after the echo.

    Leading CR/LF/NUL (line noise between replies) is tolerated; anything else is not.
    """
    if not data.endswith(ETX):
        raise MissingEtxError("reply does not end with ETX", data)
    start = data.lstrip(b"\r\n\x00")
    if not start.startswith(SOH):
        where = data.find(SOH)
        reason = "no SOH" if where < 0 else f"{len(data) - len(start) + where} bytes before SOH"
        raise MissingSohError(f"reply has {reason}", data)
    if start == ERROR_REPLY:
        raise CommandRejectedError(f"console rejected {command.echo!r}", data)
    if len(start) < 8 or start[-7:-5] != SEPARATOR:
        raise ChecksumError("reply has no &&CCCC checksum trailer", data)
    digits = start[-5:-1]
    try:
        given = int(digits.decode("ascii"), 16)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ChecksumError(f"checksum {digits!r} is not hex", data) from exc
    head = start[:-5]
    if (sum(head) + given) & 0xFFFF:
        raise ChecksumError(
            f"checksum {given:04X} does not match, expected {checksum(head):04X}", data
        )
    try:
        text = head[1:-2].decode("ascii")
    except UnicodeDecodeError as exc:
        raise BadFieldError("reply is not ASCII", data) from exc
    echo = text[:6]
    if echo != command.echo:
        raise EchoMismatchError(f"reply echoes {echo!r}, asked {command.echo!r}", data)
    return text[6:]


class _Cursor:
    """Reads fixed-width fields from a reply's data, naming the field in every error."""

    def __init__(self, text: str, data: bytes) -> None:
        self.text = text
        self.pos = 0
        self.data = data  # the whole reply, for error messages

    @property
    def done(self) -> bool:
        return self.pos >= len(self.text)

    def take(self, n: int, what: str) -> str:
        if self.pos + n > len(self.text):
            left = len(self.text) - self.pos
            raise TruncatedFrameError(
                f"data ends inside {what}: needs {n} characters at {self.pos}, {left} left",
                self.data,
            )
        out = self.text[self.pos : self.pos + n]
        self.pos += n
        return out

    def hex_int(self, n: int, what: str) -> int:
        field = self.take(n, what)
        if not all(c in "0123456789abcdefABCDEF" for c in field):
            raise BadHexError(f"{what} {field!r} is not hex", self.data)
        return int(field, 16)

    def dec_int(self, n: int, what: str) -> int:
        field = self.take(n, what)
        if not field.isdigit() or not field.isascii():
            raise BadFieldError(f"{what} {field!r} is not decimal", self.data)
        return int(field)

    def time(self, what: str) -> datetime:
        field = self.take(_TIME_LEN, what)
        if not field.isdigit() or not field.isascii():
            raise BadFieldError(f"{what} {field!r} is not YYMMDDHHmm", self.data)
        yy, mo, dd, hh, mi = (int(field[i : i + 2]) for i in range(0, _TIME_LEN, 2))
        try:
            return datetime(2000 + yy, mo, dd, hh, mi)
        except ValueError as exc:
            raise BadFieldError(f"{what} {field!r} is not a valid date: {exc}", self.data) from exc

    def floats(self, names: tuple[str, ...], what: str) -> dict[str, float]:
        count = self.hex_int(2, f"{what} field count")
        if count < len(names):
            raise FieldCountError(
                f"{what} announces {count} float fields, the layout needs {len(names)}",
                self.data,
            )
        block = self.take(count * _FLOAT_LEN, f"{what} float block ({count} fields)")
        out: dict[str, float] = {}
        for i, name in enumerate(names):
            raw = block[i * _FLOAT_LEN : (i + 1) * _FLOAT_LEN]
            try:
                (value,) = struct.unpack(">f", bytes.fromhex(raw))
            except ValueError as exc:
                raise BadHexError(f"{what} {name} {raw!r} is not hex", self.data) from exc
            if not math.isfinite(value):
                raise BadFieldError(f"{what} {name} {raw!r} is not a finite float", self.data)
            out[name] = value
        return out


def _float_hex(value: float) -> str:
    return struct.pack(">f", value).hex().upper()


def _product_code(code: str) -> str:
    if len(code) != 1 or not 0x20 <= ord(code) <= 0x7E:
        raise ValueError(f"product code {code!r} is not one printable ASCII character")
    return code


def _stamp(t: datetime) -> str:
    return t.strftime("%y%m%d%H%M")


# ---------------------------------------------------------------------------------------------
# i201 in-tank inventory


def encode_inventory(report: InventoryReport, *, tank: int = 0) -> bytes:
    parts = [f"i{Function.INVENTORY}{tank:02d}", _stamp(report.time)]
    for t in report.tanks:
        parts.append(f"{t.tank:02d}{_product_code(t.product_code)}{t.status:04X}")
        parts.append(f"{len(INVENTORY_FIELDS):02X}")
        parts += [_float_hex(getattr(t, name)) for name in INVENTORY_FIELDS]
    return frame("".join(parts))


def parse_inventory(data: bytes, *, tank: int = 0) -> InventoryReport:
    cur = _Cursor(unframe(data, Command(Function.INVENTORY, tank)), data)
    time = cur.time("report time")
    tanks: list[TankInventory] = []
    while not cur.done:
        number = cur.dec_int(2, "tank number")
        what = f"tank {number:02d}"
        product = cur.take(1, f"{what} product code")
        status = cur.hex_int(4, f"{what} status")
        values = cur.floats(INVENTORY_FIELDS, what)
        tanks.append(TankInventory(number, product, status, **values))
    return InventoryReport(time, tuple(tanks))


# ---------------------------------------------------------------------------------------------
# i202 deliveries


def encode_deliveries(report: DeliveryReport, *, tank: int = 0) -> bytes:
    parts = [f"i{Function.DELIVERIES}{tank:02d}", _stamp(report.time)]
    for t in report.tanks:
        if len(t.deliveries) > 99:
            raise ValueError(f"tank {t.tank}: at most 99 deliveries fit one report")
        parts.append(f"{t.tank:02d}{_product_code(t.product_code)}{len(t.deliveries):02d}")
        for d in t.deliveries:
            parts += [_stamp(d.start), _stamp(d.end), f"{len(DELIVERY_FIELDS):02X}"]
            parts += [_float_hex(getattr(d, name)) for name in DELIVERY_FIELDS]
    return frame("".join(parts))


def parse_deliveries(data: bytes, *, tank: int = 0) -> DeliveryReport:
    cur = _Cursor(unframe(data, Command(Function.DELIVERIES, tank)), data)
    time = cur.time("report time")
    tanks: list[TankDeliveries] = []
    while not cur.done:
        number = cur.dec_int(2, "tank number")
        what = f"tank {number:02d}"
        product = cur.take(1, f"{what} product code")
        count = cur.dec_int(2, f"{what} delivery count")
        deliveries: list[Delivery] = []
        for i in range(count):
            label = f"{what} delivery {i + 1}"
            start = cur.time(f"{label} start")
            end = cur.time(f"{label} end")
            values = cur.floats(DELIVERY_FIELDS, label)
            deliveries.append(Delivery(start, end, **values))
        tanks.append(TankDeliveries(number, product, tuple(deliveries)))
    return DeliveryReport(time, tuple(tanks))


# ---------------------------------------------------------------------------------------------
# i205 active alarms


def encode_alarms(report: AlarmReport, *, tank: int = 0) -> bytes:
    parts = [f"i{Function.ALARMS}{tank:02d}", _stamp(report.time)]
    for t in report.tanks:
        parts.append(f"{t.tank:02d}{len(t.alarms):02X}")
        parts += [f"{a:02d}" for a in t.alarms]
    return frame("".join(parts))


def parse_alarms(data: bytes, *, tank: int = 0) -> AlarmReport:
    cur = _Cursor(unframe(data, Command(Function.ALARMS, tank)), data)
    time = cur.time("report time")
    tanks: list[TankAlarms] = []
    while not cur.done:
        number = cur.dec_int(2, "tank number")
        what = f"tank {number:02d}"
        count = cur.hex_int(2, f"{what} alarm count")
        alarms = tuple(cur.dec_int(2, f"{what} alarm type") for _ in range(count))
        tanks.append(TankAlarms(number, alarms))
    return AlarmReport(time, tuple(tanks))
