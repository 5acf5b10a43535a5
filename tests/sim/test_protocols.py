"""The simulator's own protocol encoders at their edges: what they refuse, and why.

What they produce for good input is held to the golden frames (tests/devices/*/test_golden_*).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fuelwatch.core.devices.profile import Register, load_profile
from fuelwatch.core.devices.tls350 import UnitSystem
from fuelwatch.sim.protocols import modbus, tls350
from fuelwatch.sim.state import TankSnapshot

PROFILES = Path(__file__).resolve().parents[2] / "firmware_configs"


# -- TLS-350 -----------------------------------------------------------------------------------


def test_the_error_reply_is_its_own_checksum_over_soh_9999() -> None:
    assert tls350.ERROR_REPLY == b"\x019999FF1B\x03"
    assert (sum(b"\x019999") + 0xFF1B) % 0x10000 == 0


@pytest.mark.parametrize(
    ("value", "digits"),
    [
        (0.0, "00000000"),
        (-0.0, "00000000"),  # the manual's zero, not the sign bit alone
        (1.0, "3F800000"),
        (-2.5, "C0200000"),
        (100.0, "42C80000"),
        (1e-50, "00000000"),  # below the smallest single float
    ],
)
def test_floats_are_8_hex_digits_of_an_ieee_single(value: float, digits: str) -> None:
    assert tls350.ieee_hex(value) == digits


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e39])
def test_floats_a_console_cannot_send_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="float"):
        tls350.ieee_hex(value)


@pytest.mark.parametrize(
    ("body", "code", "expected"),
    [
        (b"i20100", None, tls350.Request("201", 0, display=False)),
        (b"I20203", None, tls350.Request("202", 3, display=True)),
        (b"Pa55w0i20512", "Pa55w0", tls350.Request("205", 12, display=False)),
        (b"i999\r\n", None, None),  # tank not two digits
        (b"x20100", None, None),  # neither computer nor display format
        (b"guess!i20100", "Pa55w0", None),  # wrong security code
        (b"i20100", "Pa55w0", None),  # no security code where one is set
        (b"i2010\xff", None, None),  # not ASCII
    ],
)
def test_read_request(body: bytes, code: str | None, expected: tls350.Request | None) -> None:
    assert tls350.read_request(body, code) == expected


@pytest.mark.parametrize("code", ["short", "seven77", "caf\u00e9!!"])
def test_security_codes_are_6_printable_ascii(code: str) -> None:
    with pytest.raises(ValueError, match="security code"):
        tls350.check_security_code(code)


def tank(**changes: object) -> TankSnapshot:
    values: dict[str, object] = {
        "tank": 1, "product": "92", "product_code": "1", "volume": 1.0, "tc_volume": 1.0,
        "ullage": 1.0, "height": 1.0, "water": 0.0, "temperature": 15.0, "water_volume": 0.0,
    }  # fmt: skip
    return TankSnapshot(**(values | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tank": 100}, "01 to 99"),
        ({"product_code": "92"}, "one printable ASCII character"),
        ({"product_code": "\x01"}, "one printable ASCII character"),
        ({"status_bits": 0x10000}, "4 hex digits"),
        ({"volume": math.nan}, "finite"),
    ],
)
def test_inventory_fields_that_do_not_fit_are_refused(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tls350.inventory_reply(0, "2511232013", [tank(**changes)], UnitSystem.METRIC)


def test_alarm_types_are_two_decimal_digits() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        tls350.alarm_reply(0, "2511232013", [(1, [100])])


def test_us_units_from_metric() -> None:
    us = UnitSystem.US
    assert tls350.to_console("volume", 3785.411784, us) == pytest.approx(1000.0, abs=1e-9)
    assert tls350.to_console("length", 254.0, us) == pytest.approx(10.0, abs=1e-12)
    assert tls350.to_console("temperature", -40.0, us) == -40.0
    assert tls350.to_console("temperature", 100.0, us) == 212.0
    assert tls350.to_console("volume", 1234.5, UnitSystem.METRIC) == 1234.5


# -- Modbus ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "vtype"),
    [(70000, "u16"), (-1, "u16"), (40000, "i16"), (-1, "u32"), (2**32, "u32"),
     (2**63, "i64"), (-1, "u64"), (1e39, "f32"), (1.5, "u32")],
)  # fmt: skip
def test_raw_values_a_type_cannot_hold_are_refused(raw: float, vtype: str) -> None:
    with pytest.raises(modbus.EncodeError):
        modbus.register_words(raw, vtype, "ABCD")


def test_nan_is_an_f32_a_device_can_send() -> None:
    assert modbus.register_words(math.nan, "f32", "ABCD") == [0x7FC0, 0x0000]


def register(**kw: object) -> Register:
    return Register.model_validate({"address": 40001, "type": "u32", "field": "volume", **kw})


@pytest.mark.parametrize(
    ("reg", "value", "raw"),
    [
        (register(unit="L"), 12345.4, 12345),  # to the nearest litre
        (register(unit="L"), 12345.6, 12346),
        (register(type="i16", field="temperature", scale=0.1, unit="F"), 20.0, 680),
        (register(type="i16", field="temperature", scale=0.01, offset=-273.15), 20.0, 29315),
        (register(field="last.end", unit="s"), 1_763_900_000_000, 1_763_900_000),
        (register(type="f32", unit="gal"), 3785.411784, pytest.approx(1000.0)),
        (register(field="last.seq"), 7, 7),
    ],
)
def test_raw_value_runs_the_documented_conversion_backwards(
    reg: Register, value: float, raw: object
) -> None:
    assert modbus.raw_value(value, reg) == raw


def test_whole_number_fields_refuse_fractions() -> None:
    with pytest.raises(modbus.EncodeError, match="whole number"):
        modbus.raw_value(1.5, register(field="last.seq"))


def test_layout_names_the_value_that_does_not_fit() -> None:
    layout = modbus.Layout(load_profile(PROFILES / "pneumercator_tms3000.yaml"), 2)
    message = "volume of instance 2 at 40022: -5 does not fit u32"
    with pytest.raises(modbus.EncodeError, match=message):
        layout.words({2: {"volume": -5.0}}, "holding")


def test_layout_spans_and_instance_count() -> None:
    profile = load_profile(PROFILES / "veeder_root_tls_modbus.yaml")
    layout = modbus.Layout(profile, 3)
    assert layout.span("holding") == (0, 232)  # 40001 .. tank 3's last alarm flag, 40232
    assert layout.span("input") is None
    # a read of a part of the map gets only the values it overlaps (an f32 cut in two, too)
    assert set(layout.words({}, "holding", 3, 2)) == {2, 3, 4, 5}
    with pytest.raises(modbus.EncodeError, match="room for 1 to 10"):
        modbus.Layout(profile, 11)
