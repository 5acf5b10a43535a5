"""Station values -> the register words a Modbus device laid out by a profile serves.

Written for the simulator from the profile schema as documented (docs/devices.md "Modbus
devices and profiles": word orders, types, ``value = raw × scale + offset`` in the device's
unit), not from the gateway's codec, so the gateway reading this device checks one reading of
the schema against another. Both are held to the golden register images in
``tests/data/frames/modbus/``. The profile itself (addresses, types, units) is shared data.

Encoding one value, the documented decoding run backwards:

1. our unit (L, mm, °C, yuan, yuan/L, ms) -> the register's ``unit`` with the profile's unit
   table (``ours = device × factor + shift``);
2. ``raw = (device - offset) / scale``; integer types round to the nearest whole number and
   refuse what does not fit (u16 0..65535, i16 -32768..32767, ... u64, i64); f32/f64 are
   IEEE-754 and refuse what is beyond their range;
3. the raw value's bytes, most significant (A) first, travel in the order the letters say:
   ``ABCD`` as is, ``CDAB`` low word first, ``BADC`` bytes swapped in each word, ``DCBA``
   fully reversed; 64-bit values extend the pattern over 8 bytes and 16-bit values keep only
   its byte half (``BADC`` and ``DCBA`` swap the two bytes).

A register of instance N (tank or nozzle N of the device) sits ``(N - 1) × stride`` after
instance 1's address. Counters and codes (``status``, ``product``, ``alarm``...) are whole
numbers without scale or unit.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from fuelwatch.core.devices.profile import Address, Profile, Register, Table

__all__ = ["EncodeError", "Layout", "Slot", "Value", "raw_value", "register_words"]

Value = int | float

#: Byte A is the most significant. For each word order and value size (bytes), the order in
#: which the value's bytes travel, two per register (docs/devices.md, "Word orders").
WIRE_BYTES: Final[dict[str, dict[int, str]]] = {
    "ABCD": {2: "AB", 4: "ABCD", 8: "ABCDEFGH"},
    "CDAB": {2: "AB", 4: "CDAB", 8: "GHEFCDAB"},
    "BADC": {2: "BA", 4: "BADC", 8: "BADCFEHG"},
    "DCBA": {2: "BA", 4: "DCBA", 8: "HGFEDCBA"},
}

#: integer type -> (bytes, signed)
_INTEGERS: Final[dict[str, tuple[int, bool]]] = {
    "u16": (2, False),
    "i16": (2, True),
    "u32": (4, False),
    "i32": (4, True),
    "u64": (8, False),
    "i64": (8, True),
}
_FLOATS: Final[dict[str, str]] = {"f32": ">f", "f64": ">d"}


class EncodeError(ValueError):
    """A station value that the profiled register cannot carry."""


def register_words(raw: Value, vtype: str, order: str) -> list[int]:
    """The registers (16-bit words, in wire order) that carry ``raw`` as ``vtype``."""
    if vtype in _FLOATS:
        try:
            big_endian = struct.pack(_FLOATS[vtype], raw)
        except OverflowError as exc:
            raise EncodeError(f"{raw!r} is beyond the range of {vtype}") from exc
    else:
        size, signed = _INTEGERS[vtype]
        if isinstance(raw, float) and not raw.is_integer():
            raise EncodeError(f"{raw!r} is not a whole number for {vtype}")
        try:
            big_endian = int(raw).to_bytes(size, "big", signed=signed)
        except OverflowError as exc:
            raise EncodeError(f"{raw!r} does not fit {vtype}") from exc
    pattern = WIRE_BYTES[order][len(big_endian)]
    wire = bytes(big_endian[ord(letter) - ord("A")] for letter in pattern)
    return [wire[i] << 8 | wire[i + 1] for i in range(0, len(wire), 2)]


def raw_value(value: Value, reg: Register) -> Value:
    """A station value in our unit -> the raw number the register holds."""
    if reg.quantity == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise EncodeError(f"{reg.key} is a whole number, not {value!r}")
        return int(value)
    factor, shift = reg.conversion()  # the profile's table: ours = device × factor + shift
    raw = ((value - shift) / factor - reg.offset) / reg.scale
    if reg.type in _FLOATS:
        return raw
    if not math.isfinite(raw):
        raise EncodeError(f"{reg.key}: {value!r} is not a number a {reg.type} can hold")
    return round(raw)


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one value of one instance lives."""

    instance: int  # 1 = the device's first tank or nozzle
    register: Register
    table: Table
    pdu: int  # 0-based address of its first register
    order: str

    @property
    def end(self) -> int:
        return self.pdu + self.register.width


class Layout:
    """A profile laid out for ``count`` tanks or nozzles: which words hold which value."""

    def __init__(self, profile: Profile, count: int) -> None:
        room = profile.max_instances()
        if not 1 <= count <= room:
            raise EncodeError(f"the profile has room for 1 to {room} instances, not {count}")
        self.profile = profile
        self.count = count
        self.slots = [
            Slot(
                instance=n,
                register=reg,
                table=reg.address.table,
                pdu=reg.address.pdu + (n - 1) * block.stride,
                order=reg.word_order or profile.word_order,
            )
            for block in profile.blocks
            for reg in block.registers
            for n in range(1, count + 1)
        ]

    def span(self, table: Table) -> tuple[int, int] | None:
        """(first, end) PDU addresses of the words this device maps in ``table``, if any."""
        mine = [s for s in self.slots if s.table == table]
        if not mine:
            return None
        return min(s.pdu for s in mine), max(s.end for s in mine)

    def words(
        self,
        values: Mapping[int, Mapping[str, Value]],
        table: Table,
        start: int = 0,
        count: int = 0x10000,
    ) -> dict[int, int]:
        """PDU address -> word for every value overlapping ``table[start:start + count]``.

        ``values`` are per instance, keyed like the profile's registers (``volume``,
        ``last.seq``, ``alarm:overfill``); a value that is not given is sent as 0.
        """
        out: dict[int, int] = {}
        for slot in self.slots:
            if slot.table != table or slot.end <= start or slot.pdu >= start + count:
                continue
            reg = slot.register
            value = values.get(slot.instance, {}).get(reg.key, 0)
            try:
                encoded = register_words(raw_value(value, reg), reg.type, slot.order)
            except EncodeError as exc:
                where = f"{reg.key} of instance {slot.instance} at {Address(table, slot.pdu)}"
                raise EncodeError(f"{where}: {exc}") from exc
            out.update(zip(range(slot.pdu, slot.end), encoded, strict=True))
        return out
