"""Registers <-> values, as a profile says: pure functions, no I/O.

The adapter decodes what it read; the simulator encodes the station state with the very same
functions, so a profile cannot mean one thing to the reader and another to the server.

Decoding a register: take its words, undo the word order, unpack the type big-endian, then
``value = raw * scale + offset`` in the device's unit, then convert to ours (L, mm, °C, yuan,
ms). Encoding runs the same steps backwards and refuses values the type cannot hold.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fuelwatch.core.devices.profile import TYPE_WIDTH, Address, Profile, Register, Table

__all__ = [
    "CodecError",
    "Point",
    "ReadRange",
    "RegisterMap",
    "Value",
    "decode_value",
    "encode_value",
    "from_device",
    "plan_reads",
    "to_device",
]

Value = int | float

_STRUCT = {"u16": "H", "i16": "h", "u32": "I", "i32": "i", "u64": "Q", "i64": "q",
           "f32": "f", "f64": "d"}  # fmt: skip


class CodecError(ValueError):
    """Registers that cannot be decoded, or a value that cannot be encoded."""


def _reorder(words: Sequence[int], order: str) -> list[int]:
    """Wire words <-> big-endian words. Its own inverse: used both ways."""
    out = list(words)
    if order in ("CDAB", "DCBA"):
        out.reverse()
    if order in ("BADC", "DCBA"):
        out = [((w & 0xFF) << 8) | (w >> 8) for w in out]
    return out


def decode_value(words: Sequence[int], vtype: str, order: str) -> Value:
    """Raw value of ``vtype`` from its registers as they came off the wire."""
    width = TYPE_WIDTH[vtype]
    if len(words) != width:
        raise CodecError(f"{vtype} takes {width} register(s), got {len(words)}")
    data = b"".join(w.to_bytes(2, "big") for w in _reorder(words, order))
    value: Value = struct.unpack(">" + _STRUCT[vtype], data)[0]
    return _shortest_f32(value) if vtype == "f32" else value


def _shortest_f32(x: float) -> float:
    """The shortest decimal with the same f32 bits: 18.2, not 18.200000762939453."""
    if not math.isfinite(x):
        return x
    bits = struct.pack(">f", x)
    for digits in range(6, 10):
        candidate = float(f"{x:.{digits}g}")
        if struct.pack(">f", candidate) == bits:
            return candidate
    return x


def encode_value(value: Value, vtype: str, order: str) -> list[int]:
    """The registers a device sends for raw ``value`` of ``vtype``."""
    try:
        data = struct.pack(">" + _STRUCT[vtype], value)
    except (struct.error, OverflowError) as exc:
        raise CodecError(f"{value!r} does not fit {vtype}") from exc
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return _reorder(words, order)


def from_device(raw: Value, reg: Register) -> Value:
    """Raw register value -> our unit. Integer fields (counters, codes) stay integers."""
    if reg.quantity == "integer":
        return raw
    factor, shift = reg.conversion()
    value = (raw * reg.scale + reg.offset) * factor + shift
    if not math.isfinite(value):
        return value
    if reg.type == "f32":  # 7 significant digits is all an f32 holds; don't invent more
        return float(f"{value:.7g}")
    # drop binary noise of the arithmetic (0.01 * 1234 = 12.340000000000002), keep real digits
    return round(value, 9)


def to_device(value: Value, reg: Register) -> Value:
    """Our unit -> the raw value to put in the registers (rounded for integer types)."""
    if reg.quantity == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise CodecError(f"{reg.key} is a whole number, got {value!r}")
        return int(value)
    factor, shift = reg.conversion()
    raw = ((value - shift) / factor - reg.offset) / reg.scale
    if reg.type.startswith("f"):
        return raw
    if not math.isfinite(raw):
        raise CodecError(f"{reg.key}: {value!r} cannot be encoded as {reg.type}")
    return round(raw)


@dataclass(frozen=True, slots=True)
class ReadRange:
    """One read request: ``count`` registers of ``table`` from PDU address ``start``."""

    table: Table
    start: int
    count: int

    def __str__(self) -> str:
        first, last = (
            Address(self.table, self.start),
            Address(self.table, self.start + self.count - 1),
        )
        return f"{self.table} {first}-{last} ({self.count} registers)"


def plan_reads(
    spans: Iterable[tuple[Address, int]], *, max_registers: int = 125, max_gap: int = 0
) -> list[ReadRange]:
    """Fewest reads covering every (address, width) span: a value is never split across two
    reads, a read spans at most ``max_gap`` unmapped registers and ``max_registers`` in all."""
    reads: list[ReadRange] = []
    table: Table | None = None
    start = end = 0
    for address, width in sorted(set(spans)):
        if width > max_registers:
            raise CodecError(
                f"a {width}-register value does not fit a {max_registers}-register read"
            )
        joins = (
            table == address.table
            and address.pdu - end <= max_gap
            and max(end, address.pdu + width) - start <= max_registers
        )
        if joins:
            end = max(end, address.pdu + width)
            continue
        if table is not None:
            reads.append(ReadRange(table, start, end - start))
        table, start, end = address.table, address.pdu, address.pdu + width
    if table is not None:
        reads.append(ReadRange(table, start, end - start))
    return reads


@dataclass(frozen=True, slots=True)
class Point:
    """One register of one instance (tank or nozzle number as the device counts them)."""

    instance: int
    register: Register
    address: Address
    order: str


class RegisterMap:
    """A profile laid out for a device's number of tanks or nozzles."""

    def __init__(self, profile: Profile, count: int) -> None:
        if not 1 <= count <= profile.max_instances():
            raise CodecError(
                f"the profile has room for 1 to {profile.max_instances()} instances, not {count}"
            )
        self.profile = profile
        self.count = count
        self.points = [
            Point(
                n,
                reg,
                reg.address.shifted((n - 1) * block.stride),
                reg.word_order or profile.word_order,
            )
            for block in profile.blocks
            for n in range(1, count + 1)
            for reg in block.registers
        ]

    def plan(self) -> list[ReadRange]:
        return plan_reads(
            ((p.address, p.register.width) for p in self.points),
            max_registers=self.profile.read.max_registers,
            max_gap=self.profile.read.max_gap,
        )

    def decode(
        self, replies: Iterable[tuple[ReadRange, Sequence[int]]]
    ) -> dict[int, dict[str, Value]]:
        """Values per instance from the replies to ``plan()``'s reads."""
        image: dict[tuple[str, int], int] = {}
        for rng, words in replies:
            if len(words) != rng.count:
                raise CodecError(f"read of {rng} returned {len(words)} registers")
            image.update(((rng.table, rng.start + i), w) for i, w in enumerate(words))
        out: dict[int, dict[str, Value]] = {n: {} for n in range(1, self.count + 1)}
        for p in self.points:
            reg = p.register
            try:
                words = [image[(p.address.table, p.address.pdu + i)] for i in range(reg.width)]
            except KeyError as exc:
                raise CodecError(f"register {p.address} ({reg.key}) was not read") from exc
            out[p.instance][reg.key] = from_device(decode_value(words, reg.type, p.order), reg)
        return out

    def encode(
        self, values: Mapping[int, Mapping[str, Value]], within: ReadRange | None = None
    ) -> dict[Table, dict[int, int]]:
        """Register words per table and PDU address; a value missing from ``values`` is 0.
        With ``within``, only the values that overlap that range (what a request asks for)."""
        out: dict[Table, dict[int, int]] = {"holding": {}, "input": {}}
        for p in self.points:
            reg = p.register
            if within is not None and (
                p.address.table != within.table
                or p.address.pdu >= within.start + within.count
                or p.address.pdu + reg.width <= within.start
            ):
                continue
            value = values.get(p.instance, {}).get(reg.key, 0)
            try:
                words = encode_value(to_device(value, reg), reg.type, p.order)
            except CodecError as exc:
                raise CodecError(f"instance {p.instance}, {reg.key} at {p.address}: {exc}") from exc
            table = out[p.address.table]
            for i, word in enumerate(words):
                table[p.address.pdu + i] = word
        return out
