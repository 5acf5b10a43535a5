"""The pure codec: register words <-> values for every type and word order, scaling, units,
and the read planner. Expected words are written out by hand from the bytes, not computed."""

from __future__ import annotations

import math

import pytest

from fuelwatch.core.devices.profile import (
    Address,
    Profile,
    Register,
    load_profile,
    parse_address,
)
from fuelwatch.gateway.adapters.modbus.codec import (
    CodecError,
    ReadRange,
    RegisterMap,
    decode_value,
    encode_value,
    from_device,
    plan_reads,
    to_device,
)
from tests.devices.modbus.conftest import PROFILES

# (type, raw value, {word order: registers as they travel})
TABLE = [
    ("u16", 0x1234, {"ABCD": [0x1234], "CDAB": [0x1234], "BADC": [0x3412], "DCBA": [0x3412]}),
    ("i16", -2, {"ABCD": [0xFFFE], "CDAB": [0xFFFE], "BADC": [0xFEFF], "DCBA": [0xFEFF]}),
    ("u16", 65535, {"ABCD": [0xFFFF], "CDAB": [0xFFFF], "BADC": [0xFFFF], "DCBA": [0xFFFF]}),
    (
        "u32",
        0x12345678,
        {
            "ABCD": [0x1234, 0x5678],
            "CDAB": [0x5678, 0x1234],
            "BADC": [0x3412, 0x7856],
            "DCBA": [0x7856, 0x3412],
        },
    ),
    (
        "i32",
        -123456789,  # 0xF8A432EB
        {
            "ABCD": [0xF8A4, 0x32EB],
            "CDAB": [0x32EB, 0xF8A4],
            "BADC": [0xA4F8, 0xEB32],
            "DCBA": [0xEB32, 0xA4F8],
        },
    ),
    (
        "f32",
        123.456,  # 0x42F6E979
        {
            "ABCD": [0x42F6, 0xE979],
            "CDAB": [0xE979, 0x42F6],
            "BADC": [0xF642, 0x79E9],
            "DCBA": [0x79E9, 0xF642],
        },
    ),
    (
        "f32",
        -18.2,  # 0xC191999A
        {
            "ABCD": [0xC191, 0x999A],
            "CDAB": [0x999A, 0xC191],
            "BADC": [0x91C1, 0x9A99],
            "DCBA": [0x9A99, 0x91C1],
        },
    ),
    (
        "u64",
        0x0102030405060708,
        {
            "ABCD": [0x0102, 0x0304, 0x0506, 0x0708],
            "CDAB": [0x0708, 0x0506, 0x0304, 0x0102],
            "BADC": [0x0201, 0x0403, 0x0605, 0x0807],
            "DCBA": [0x0807, 0x0605, 0x0403, 0x0201],
        },
    ),
    (
        "i64",
        -2,
        {
            "ABCD": [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE],
            "CDAB": [0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF],
            "BADC": [0xFFFF, 0xFFFF, 0xFFFF, 0xFEFF],
            "DCBA": [0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF],
        },
    ),
    (
        "f64",
        1.5,  # 0x3FF8000000000000
        {
            "ABCD": [0x3FF8, 0, 0, 0],
            "CDAB": [0, 0, 0, 0x3FF8],
            "BADC": [0xF83F, 0, 0, 0],
            "DCBA": [0, 0, 0, 0xF83F],
        },
    ),
]
CASES = [(t, v, order, words) for t, v, orders in TABLE for order, words in orders.items()]


@pytest.mark.parametrize(("vtype", "value", "order", "words"), CASES)
def test_decode_table(vtype: str, value: float, order: str, words: list[int]) -> None:
    assert decode_value(words, vtype, order) == value


@pytest.mark.parametrize(("vtype", "value", "order", "words"), CASES)
def test_encode_table(vtype: str, value: float, order: str, words: list[int]) -> None:
    assert encode_value(value, vtype, order) == words


def test_f32_decodes_to_the_shortest_decimal() -> None:
    assert decode_value([0x4191, 0x999A], "f32", "ABCD") == 18.2  # not 18.200000762939453
    nan = decode_value([0x7FC0, 0x0000], "f32", "ABCD")
    assert isinstance(nan, float)
    assert math.isnan(nan)


@pytest.mark.parametrize(
    ("words", "vtype"),
    [([0x1234], "u32"), ([1, 2, 3], "f64"), ([], "u16"), ([1, 2], "u16")],
)
def test_wrong_number_of_words_is_refused(words: list[int], vtype: str) -> None:
    with pytest.raises(CodecError, match="register"):
        decode_value(words, vtype, "ABCD")


@pytest.mark.parametrize(
    ("value", "vtype"), [(70000, "u16"), (-1, "u32"), (2**63, "i64"), (1e40, "f32")]
)
def test_values_that_do_not_fit_are_refused(value: float, vtype: str) -> None:
    with pytest.raises(CodecError, match="does not fit"):
        encode_value(value, vtype, "ABCD")


def reg(**kw: object) -> Register:
    return Register.model_validate({"address": 40001, "type": "u32", "field": "volume", **kw})


@pytest.mark.parametrize(
    ("register", "raw", "ours"),
    [
        (reg(unit="L"), 12345, 12345.0),
        (reg(unit="gal"), 100, 378.5411784),
        (reg(unit="m3", scale=0.001), 12345, 12345.0),
        (reg(field="height", unit="in", scale=0.1), 500, 1270.0),
        (reg(field="height", type="i32", unit="mm"), -3, -3.0),
        (reg(field="temperature", type="i16", scale=0.1, unit="C"), -55, -5.5),
        (reg(field="temperature", type="i16", scale=0.1, unit="F"), 680, 20.0),
        (reg(field="temperature", type="i16", scale=0.01, offset=-273.15, unit="C"), 29315, 20.0),
        (reg(field="volume_total", type="u64", scale=0.01), 12345678901, 123456789.01),
        (reg(field="last.amount", scale=0.01, unit="yuan"), 22748, 227.48),
        (reg(field="last.amount", unit="fen"), 22748, 227.48),
        (reg(field="unit_price", unit="fen/L"), 752, 7.52),
        (reg(field="last.end", unit="s"), 1_763_900_000, 1_763_900_000_000),
        (reg(field="last.seq"), 4_000_000_000, 4_000_000_000),
    ],
)
def test_scale_offset_and_units(register: Register, raw: int, ours: float) -> None:
    value = from_device(raw, register)
    assert value == pytest.approx(ours, abs=1e-9)
    assert to_device(value, register) == raw


def test_integer_fields_stay_integers() -> None:
    value = from_device(7, reg(field="last.seq"))
    assert value == 7
    assert isinstance(value, int)


@pytest.mark.parametrize(
    ("number", "table", "pdu"),
    [
        (40001, "holding", 0),
        (40002, "holding", 1),
        (49999, "holding", 9998),
        (30001, "input", 0),
        (30101, "input", 100),
        (400001, "holding", 0),
        (465536, "holding", 65535),
        (365536, "input", 65535),
        ("holding:0", "holding", 0),
        ("input:0x10", "input", 16),
        ("40010", "holding", 9),
    ],
)
def test_address_convention(number: int | str, table: str, pdu: int) -> None:
    assert parse_address(number) == Address(table, pdu)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [40000, 1, 10001, 50000, 465537, "coil:3", "holding:70000", "x"])
def test_bad_addresses_are_refused(bad: int | str) -> None:
    with pytest.raises(ValueError, match="register"):
        parse_address(bad)


def spans(*items: tuple[int, int]) -> list[tuple[Address, int]]:
    return [(parse_address(number), width) for number, width in items]


@pytest.mark.parametrize(
    ("items", "max_registers", "max_gap", "expected"),
    [
        # contiguous values: one read
        ([(40001, 1), (40002, 2), (40004, 2)], 125, 0, [("holding", 0, 5)]),
        # a gap ends a read unless max_gap allows it
        ([(40001, 2), (40005, 2)], 125, 0, [("holding", 0, 2), ("holding", 4, 2)]),
        ([(40001, 2), (40005, 2)], 125, 2, [("holding", 0, 6)]),
        # tables are never mixed
        ([(40001, 2), (30003, 2)], 125, 100, [("holding", 0, 2), ("input", 2, 2)]),
        # 125 registers at most, and a value is never split across reads
        (
            [(40001 + 2 * i, 2) for i in range(70)],
            125,
            0,
            [("holding", 0, 124), ("holding", 124, 16)],
        ),
        ([(40001, 4), (40005, 4)], 6, 0, [("holding", 0, 4), ("holding", 4, 4)]),
        # unsorted and duplicate input is fine
        ([(40010, 1), (40001, 1), (40010, 1), (40002, 1)], 125, 10, [("holding", 0, 10)]),
        ([], 125, 0, []),
    ],
)
def test_plan_reads(
    items: list[tuple[int, int]],
    max_registers: int,
    max_gap: int,
    expected: list[tuple[str, int, int]],
) -> None:
    got = plan_reads(spans(*items), max_registers=max_registers, max_gap=max_gap)
    assert [(r.table, r.start, r.count) for r in got] == expected


def test_plan_refuses_a_value_wider_than_a_read() -> None:
    with pytest.raises(CodecError):
        plan_reads(spans((40001, 4)), max_registers=3)


def load(name: str) -> Profile:
    return load_profile(PROFILES / name)


def test_pneumercator_map_layout() -> None:
    """Tank N block at (N-1)*16 + 40002; 12 tanks in two reads."""
    m = RegisterMap(load("pneumercator_tms3000.yaml"), 12)
    volume = {p.instance: str(p.address) for p in m.points if p.register.field == "volume"}
    assert volume[1] == "40006"
    assert volume[12] == str(40006 + 11 * 16)
    assert [str(r) for r in m.plan()] == [
        "holding 40002-40125 (124 registers)",
        "holding 40126-40193 (68 registers)",
    ]


def test_map_decode_and_encode_are_inverse() -> None:
    profile = load("taxcontrol_dispenser_collector.yaml")
    m = RegisterMap(profile, 3)
    values = {
        n: {
            "state": 2,
            "product": 1,
            "unit_price": 7.52,
            "current_volume": 12.34,
            "last.seq": 100 + n,
            "last.order_id": 5000 + n,
            "last.unit_price": 7.52,
            "last.volume": 30.25,
            "last.amount": 227.48,
            "last.paid": 227.0,
            "last.start": 1_763_900_000_000,
            "last.end": 1_763_900_060_000,
            "last.totalizer_before": 123456.78,
            "last.totalizer_after": 123487.03,
            "volume_total": 123487.03 + n,
            "amount_total": 9876543.21,
        }
        for n in (1, 2, 3)
    }
    image = m.encode(values)
    replies = [(r, [image[r.table].get(r.start + i, 0) for i in range(r.count)]) for r in m.plan()]
    assert m.decode(replies) == values


def test_map_decode_refuses_short_replies() -> None:
    m = RegisterMap(load("veeder_root_tls_modbus.yaml"), 1)
    (rng,) = m.plan()
    with pytest.raises(CodecError, match="returned 3 registers"):
        m.decode([(rng, [0, 0, 0])])
    with pytest.raises(CodecError, match="was not read"):
        m.decode([(ReadRange("holding", 0, 2), [0, 0])])


def test_map_refuses_more_instances_than_the_profile_has() -> None:
    with pytest.raises(CodecError, match="room for 1 to 10"):
        RegisterMap(load("veeder_root_tls_modbus.yaml"), 11)


def test_encode_reports_which_value_does_not_fit() -> None:
    m = RegisterMap(load("pneumercator_tms3000.yaml"), 2)
    with pytest.raises(CodecError, match=r"instance 2, volume at 40022: .* does not fit u32"):
        m.encode({2: {"volume": -5.0}})
