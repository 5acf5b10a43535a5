"""Modbus device profiles: a device's register map as data (``firmware_configs/*.yaml``).

A profile says where each value of a tank gauge or dispenser lives, how it is encoded and what
it means in our record model; the adapter (reading) and the simulator (serving) both work from
it, so adding a device is a YAML file, not code. See docs/devices.md for a worked example.

Register addresses use the Modicon numbers found in device manuals, which are 1-based and carry
the table in their first digit:

- ``40001``-``49999`` holding register, PDU address = number - 40001 (read with function 3);
- ``30001``-``39999`` input register, PDU address = number - 30001 (function 4);
- six-digit ``400001``-``465536`` / ``300001``-``365536`` the same with room for all 65536;
- ``"holding:N"`` / ``"input:N"`` (``N`` decimal or ``0x`` hex) a 0-based PDU address as is,
  for manuals that list raw addresses.

So ``40001`` is holding register 0 on the wire, and ``"holding:0"`` is the same register.

A block of registers repeats per tank or per nozzle: the profile gives the addresses of
instance 1 and a ``stride``; instance N's registers sit ``(N - 1) * stride`` further on.

Word order names the order of the bytes A (most significant) .. D/H as they travel: ``ABCD``
big-endian (high word first), ``CDAB`` low word first, ``BADC`` bytes swapped in each word,
``DCBA`` fully little-endian. 64-bit values extend the pattern (``CDAB`` = low word first).
For 16-bit types only the byte half applies: ``BADC`` and ``DCBA`` swap the two bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from fuelwatch.core.config import load_yaml_model
from fuelwatch.core.devices.status import StatusBit

__all__ = [
    "CANONICAL_UNITS",
    "FIELDS",
    "TYPE_WIDTH",
    "UNITS",
    "Address",
    "Block",
    "DeviceKind",
    "FieldSpec",
    "Profile",
    "Register",
    "Table",
    "ValueType",
    "WordOrder",
    "load_profile",
    "parse_address",
]

Table = Literal["holding", "input"]
ValueType = Literal["u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64"]
WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
DeviceKind = Literal["tank_gauge", "dispenser"]
NozzleState = Literal["idle", "lifted", "fuelling"]
Quantity = Literal["volume", "length", "temperature", "money", "price", "time", "integer"]

TYPE_WIDTH: dict[str, int] = {
    "u16": 1, "i16": 1, "u32": 2, "i32": 2, "u64": 4, "i64": 4, "f32": 2, "f64": 4,
}  # fmt: skip
INTEGER_TYPES = frozenset({"u16", "i16", "u32", "i32", "u64", "i64"})

# canonical value = device value * factor + shift; the canonical unit is the record model's
CANONICAL_UNITS: dict[Quantity, str] = {
    "volume": "L",
    "length": "mm",
    "temperature": "C",
    "money": "yuan",
    "price": "yuan/L",
    "time": "ms",
}
UNITS: dict[Quantity, dict[str, tuple[float, float]]] = {
    "volume": {
        "L": (1.0, 0.0),
        "mL": (0.001, 0.0),
        "m3": (1000.0, 0.0),
        "gal": (3.785411784, 0.0),  # US gallon
        "imp_gal": (4.54609, 0.0),
    },
    "length": {"mm": (1.0, 0.0), "cm": (10.0, 0.0), "m": (1000.0, 0.0), "in": (25.4, 0.0)},
    "temperature": {"C": (1.0, 0.0), "F": (5.0 / 9.0, -160.0 / 9.0), "K": (1.0, -273.15)},
    "money": {"yuan": (1.0, 0.0), "fen": (0.01, 0.0)},
    "price": {"yuan/L": (1.0, 0.0), "fen/L": (0.01, 0.0)},
    "time": {"ms": (1.0, 0.0), "s": (1000.0, 0.0)},  # since the Unix epoch, UTC
    "integer": {},
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kinds: frozenset[str]
    quantity: Quantity
    meaning: str


_TANK = frozenset({"tank_gauge"})
_NOZZLE = frozenset({"dispenser"})

#: What a register can mean: a field of the record model (fuelwatch.core.records). ``last.*`` is the
#: dispenser's most recent completed transaction (-> TransactionRecord).
FIELDS: dict[str, FieldSpec] = {
    "product": FieldSpec(_TANK | _NOZZLE, "integer", "product code, mapped by `products`"),
    "status": FieldSpec(_TANK, "integer", "gauge status bits (InventoryRecord.status)"),
    "volume": FieldSpec(_TANK, "volume", "gross volume"),
    "tc_volume": FieldSpec(_TANK, "volume", "volume corrected to 20 °C (net)"),
    "ullage": FieldSpec(_TANK, "volume", "ullage"),
    "height": FieldSpec(_TANK, "length", "product level"),
    "water": FieldSpec(_TANK, "length", "water level"),
    "temperature": FieldSpec(_TANK, "temperature", "product temperature"),
    "water_volume": FieldSpec(_TANK, "volume", "water volume"),
    "alarm": FieldSpec(_TANK, "integer", "alarm flag, non-zero = active (needs `code`)"),
    "state": FieldSpec(_NOZZLE, "integer", "nozzle state, mapped by `states`"),
    "unit_price": FieldSpec(_NOZZLE, "price", "current unit price"),
    "current_volume": FieldSpec(_NOZZLE, "volume", "volume on the display while fuelling"),
    "volume_total": FieldSpec(_NOZZLE, "volume", "electronic volume totalizer (泵码)"),
    "amount_total": FieldSpec(_NOZZLE, "money", "money totalizer"),
    "last.seq": FieldSpec(_NOZZLE, "integer", "transaction counter, +1 per completed sale"),
    "last.order_id": FieldSpec(_NOZZLE, "integer", "order number of the last sale"),
    "last.unit_price": FieldSpec(_NOZZLE, "price", "unit price of the last sale"),
    "last.volume": FieldSpec(_NOZZLE, "volume", "volume of the last sale"),
    "last.amount": FieldSpec(_NOZZLE, "money", "amount of the last sale"),
    "last.paid": FieldSpec(_NOZZLE, "money", "amount actually paid for the last sale"),
    "last.start": FieldSpec(_NOZZLE, "time", "start of fuelling of the last sale"),
    "last.end": FieldSpec(_NOZZLE, "time", "end of fuelling of the last sale"),
    "last.totalizer_before": FieldSpec(_NOZZLE, "volume", "volume totalizer before the sale"),
    "last.totalizer_after": FieldSpec(_NOZZLE, "volume", "volume totalizer after the sale"),
}

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "tank_gauge": ("volume", "height"),
    "dispenser": (
        "state",
        "volume_total",
        "last.seq",
        "last.order_id",
        "last.volume",
        "last.amount",
        "last.start",
        "last.end",
    ),
}
REPEAT_FOR_KIND: dict[str, str] = {"tank_gauge": "tank", "dispenser": "nozzle"}

Loc = tuple[str | int, ...]


def _fail(problems: Iterable[tuple[Loc, str]]) -> NoReturn:
    """Raise a ValidationError whose locations point into the YAML (for file:line messages)."""
    raise ValidationError.from_exception_data(
        "profile",
        [
            InitErrorDetails(
                type=PydanticCustomError("profile", "{message}", {"message": message}),
                loc=loc,
                input=None,
            )
            for loc, message in problems
        ],
    )


@dataclass(frozen=True, slots=True, order=True)
class Address:
    """A register's table and 0-based PDU address (what goes on the wire)."""

    table: Table
    pdu: int

    def __str__(self) -> str:
        if self.pdu <= 9998:
            return str((40001 if self.table == "holding" else 30001) + self.pdu)
        return f"{self.table}:{self.pdu}"

    def shifted(self, registers: int) -> Address:
        return Address(self.table, self.pdu + registers)


def parse_address(value: Any) -> Address:
    """Modicon register number (40001 = holding 0) or ``"holding:N"`` / ``"input:N"``."""
    if isinstance(value, Address):
        return value
    if isinstance(value, bool):
        # ValueError, not TypeError: pydantic reports only ValueError as a validation problem
        raise ValueError("a register address is a number like 40001, not a boolean")  # noqa: TRY004
    if isinstance(value, int):
        for first, last, table in (
            (40001, 49999, "holding"),
            (30001, 39999, "input"),
            (400001, 465536, "holding"),
            (300001, 365536, "input"),
        ):
            if first <= value <= last:
                return Address(table, value - first)  # type: ignore[arg-type]
        raise ValueError(
            f"{value} is not a register number: use 4xxxx for holding registers (40001 is "
            "PDU address 0), 3xxxx for input registers, or 'holding:N' / 'input:N' for a "
            "0-based PDU address"
        )
    if isinstance(value, str):
        table, sep, number = value.partition(":")
        if sep and table in ("holding", "input"):
            try:
                pdu = int(number.strip(), 0)
            except ValueError:
                pdu = -1
            if 0 <= pdu <= 0xFFFF:
                return Address(table, pdu)  # type: ignore[arg-type]
        if value.strip().isdigit():
            return parse_address(int(value))
        raise ValueError(
            f"{value!r} is not a register address: write 40001 (holding), 30001 (input), "
            "or 'holding:N' / 'input:N' with N from 0 to 65535"
        )
    raise ValueError(f"a register address is a number like 40001, not {type(value).__name__}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Finite = Annotated[float, Field(allow_inf_nan=False)]
AlarmCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,48}$")]
ProductCode = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v),
    StringConstraints(pattern=r"^[A-Za-z0-9#_+-]{1,16}$"),
]  # YAML reads 92 or 0 as numbers; product codes are text


class Register(_Strict):
    """One value: where it is, how it is encoded and what it means."""

    address: Annotated[Address, BeforeValidator(parse_address)]
    type: ValueType
    field: str
    word_order: WordOrder | None = Field(default=None, description="default: the profile's")
    scale: Finite = Field(default=1.0, description="value = raw * scale + offset")
    offset: Finite = 0.0
    unit: str | None = Field(default=None, description="device unit; default: ours")
    code: AlarmCode | None = Field(default=None, description="alarm code, for field: alarm")
    severity: Literal["info", "warning", "critical"] = "warning"
    description: str = ""

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value not in FIELDS:
            raise ValueError(f"unknown field {value!r}; known fields: {', '.join(FIELDS)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Register:
        quantity = FIELDS[self.field].quantity
        problems: list[tuple[Loc, str]] = []
        if self.scale == 0:
            problems.append((("scale",), "scale must not be 0"))
        if quantity == "integer":
            if self.type not in INTEGER_TYPES:
                problems.append(
                    (("type",), f"{self.field} is a whole number: use an integer type, not f*")
                )
            if self.scale != 1 or self.offset != 0:
                problems.append((("scale",), f"{self.field} takes no scale or offset"))
            if self.unit is not None:
                problems.append((("unit",), f"{self.field} has no unit"))
        elif self.unit is not None and self.unit not in UNITS[quantity]:
            problems.append(
                (
                    ("unit",),
                    f"{self.unit!r} is not a {quantity} unit; use one of "
                    + ", ".join(UNITS[quantity]),
                )
            )
        if self.field == "alarm" and self.code is None:
            problems.append((("code",), "an alarm register needs `code` (e.g. overfill)"))
        if self.field != "alarm" and self.code is not None:
            problems.append((("code",), "`code` is only for field: alarm"))
        if problems:
            _fail(problems)
        return self

    @property
    def width(self) -> int:
        return TYPE_WIDTH[self.type]

    @property
    def quantity(self) -> Quantity:
        return FIELDS[self.field].quantity

    @property
    def key(self) -> str:
        """Name of the decoded value: the field, or ``alarm:<code>``."""
        return f"alarm:{self.code}" if self.field == "alarm" else self.field

    def conversion(self) -> tuple[float, float]:
        """(factor, shift) from the device unit to ours."""
        if self.quantity == "integer":
            return (1.0, 0.0)
        unit = self.unit or CANONICAL_UNITS[self.quantity]
        return UNITS[self.quantity][unit]


class Block(_Strict):
    """Registers that repeat per tank or per nozzle; addresses are instance 1's."""

    per: Literal["tank", "nozzle"]
    stride: int = Field(ge=0, le=65535, description="registers from one instance to the next")
    max_count: int = Field(ge=1, le=999, description="instances the device map has room for")
    registers: list[Register] = Field(min_length=1)


class DeviceInfo(_Strict):
    vendor: str = Field(min_length=1)
    model: str = Field(min_length=1)
    kind: DeviceKind
    description: str = ""


class ReadSettings(_Strict):
    max_registers: int = Field(default=125, ge=1, le=125, description="per request")
    max_gap: int = Field(
        default=0, ge=0, le=124, description="unmapped registers one request may read across"
    )


class Profile(_Strict):
    """A device's Modbus map. Validated as a whole: types, units, overlaps, required fields."""

    version: Literal[1] = 1
    device: DeviceInfo
    word_order: WordOrder = "ABCD"
    read: ReadSettings = ReadSettings()
    products: dict[int, ProductCode] = Field(
        default_factory=dict, description="product register value -> product code"
    )
    states: dict[int, NozzleState] = Field(
        default_factory=dict, description="state register value -> nozzle state"
    )
    status_bits: list[StatusBit] = Field(
        default_factory=list,
        description="what the status register's bits mean (others are dropped)",
    )
    tc_reference: Literal["20C", "15C", "60F"] = Field(
        default="20C", description="the temperature tc_volume is compensated to"
    )
    blocks: list[Block] = Field(min_length=1)

    @model_validator(mode="after")
    def _whole_map(self) -> Profile:
        kind = self.device.kind
        problems: list[tuple[Loc, str]] = []
        seen: dict[str, Loc] = {}
        for b, block in enumerate(self.blocks):
            if block.per != REPEAT_FOR_KIND[kind]:
                problems.append(
                    (("blocks", b, "per"), f"a {kind} profile repeats per {REPEAT_FOR_KIND[kind]}")
                )
            for r, reg in enumerate(block.registers):
                loc: Loc = ("blocks", b, "registers", r)
                if kind not in FIELDS[reg.field].kinds:
                    problems.append(((*loc, "field"), f"{reg.field} is not a {kind} field"))
                if reg.key in seen:
                    where = _loc_text(seen[reg.key])
                    problems.append(((*loc, "field"), f"{reg.key} is already mapped at {where}"))
                seen.setdefault(reg.key, loc)
        problems.extend(
            (("blocks",), f"a {kind} profile must map field {name}")
            for name in REQUIRED_FIELDS[kind]
            if name not in seen
        )
        if kind == "dispenser" and "unit_price" not in seen and "last.unit_price" not in seen:
            problems.append(
                (("blocks",), "a dispenser profile must map unit_price or last.unit_price")
            )
        if "status" in seen and not self.status_bits:
            problems.append(
                (("status_bits",), "field status needs `status_bits` (bit, meaning, active)")
            )
        if "state" in seen and not self.states:
            problems.append((("states",), "field state needs a `states` table (value: state)"))
        if "product" in seen and not self.products:
            problems.append((("products",), "field product needs a `products` table"))
        problems += self._overlaps()
        if problems:
            _fail(problems)
        return self

    def _overlaps(self) -> list[tuple[Loc, str]]:
        """Registers of all instances (up to max_count) must not share a word."""
        spans: list[tuple[Address, int, int, int, int]] = []  # start, end, block, reg, instance
        for b, block in enumerate(self.blocks):
            for r, reg in enumerate(block.registers):
                for n in range(1, block.max_count + 1):
                    start = reg.address.shifted((n - 1) * block.stride)
                    end = start.pdu + reg.width
                    if end > 0x10000:
                        loc: Loc = ("blocks", b, "registers", r, "address")
                        what = f"{block.per} {n}'s copy" if n > 1 else "it"
                        return [(loc, f"{what} runs past the end of the {start.table} table")]
                    spans.append((start, end, b, r, n))
        spans.sort()
        problems: list[tuple[Loc, str]] = []
        last: tuple[Address, int, int, int, int] | None = None
        for span in spans:
            start, _end, b, r, n = span
            if last is not None and last[0].table == start.table and start.pdu < last[1]:
                _s, _e, lb, lr, ln = last
                mine = self.blocks[b]
                text = f"{_reg_text(mine, r, n)} overlaps {_reg_text(self.blocks[lb], lr, ln)}"
                if lb == b and ln != n:
                    text += f": stride {mine.stride} is smaller than the block"
                problems.append((("blocks", b, "registers", r, "address"), text))
                if len(problems) >= 5:
                    break
            if last is None or last[0].table != start.table or span[1] > last[1]:
                last = span
        return problems

    @property
    def kind(self) -> DeviceKind:
        return self.device.kind

    def max_instances(self) -> int:
        return min(block.max_count for block in self.blocks)

    def register(self, key: str) -> Register | None:
        for block in self.blocks:
            for reg in block.registers:
                if reg.key == key:
                    return reg
        return None


def _loc_text(loc: Loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _reg_text(block: Block, index: int, instance: int) -> str:
    reg = block.registers[index]
    address = reg.address.shifted((instance - 1) * block.stride)
    return f"{reg.key} ({address}, {reg.type}) of {block.per} {instance}"


def load_profile(path: Path | str) -> Profile:
    """Load and check a profile; a ConfigError names file, line and field of each problem."""
    return load_yaml_model(Profile, path)
