"""The TLS-350 codec on frames written by hand from the manual's layouts, good and broken."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from veeder_root_tls_socket_library.socket import TlsSocket

from fuelwatch.core.devices.tls350 import UnitSystem
from fuelwatch.gateway.adapters.base import DeviceError
from fuelwatch.gateway.adapters.tls350 import codec
from fuelwatch.gateway.adapters.tls350.codec import (
    AlarmReport,
    Command,
    DeliveryReport,
    InventoryReport,
    TankAlarms,
    TankInventory,
)
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
from tests.devices.golden import tls350_case

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2025, 11, 23, 20, 13)  # 2511232013

# Per tank: TT p ssss NN, then volume, TC volume, ullage, height, water, temperature, water vol.
TANK1 = "01" "1" "0000" "07" "4640E666" "46403066" "4689ECCD" "449A5000" "404CCCCD" "41920000" "3FC00000"  # fmt: skip  # noqa: E501
TANK2 = "02" "2" "0001" "07" "459C4000" "459BF000" "46C35000" "44160000" "00000000" "C0200000" "00000000"  # fmt: skip  # noqa: E501
# TT p dd, start, end, NN, start vol/TC vol/water/temp, end vol/TC vol/water/temp, heights
DELIVERY1 = (
    "011" "01" "2511231813" "2511231913" "0A"
    "457A0800" "45796400" "40400000" "418C0000"
    "46947180" "46940D00" "40600000" "41860000"
    "44001000" "44E13000"
)  # fmt: skip

# The hand-written frames live with the golden cases (tests/data/frames/tls350/), where the
# simulator's encoder is held to them too; test_golden_frames.py checks what they decode to.
INVENTORY_FRAME = tls350_case("inventory-two-tanks").reply
INVENTORY_TANK2_FRAME = tls350_case("inventory-one-tank").reply
DELIVERY_FRAME = tls350_case("deliveries-two-tanks").reply
ALARM_FRAME = tls350_case("alarms-two-tanks").reply
# A real console's system status reply, as the peer library's README prints it.
STATUS_FRAME = tls350_case("status-real-console").reply

TANK1_VALUES = TankInventory(1, "1", 0, 12345.6, 12300.1, 17654.4, 1234.5, 3.2, 18.25, 1.5)
TANK2_VALUES = TankInventory(2, "2", 1, 5000.0, 4990.0, 25000.0, 600.0, 0.0, -2.5, 0.0)


def metric(t: TankInventory) -> TankInventory:
    """Single floats carry noise below 0.001; compare at the resolution we store."""
    kw = {
        f: codec.to_metric(codec.FIELD_QUANTITY[f], getattr(t, f), UnitSystem.METRIC)
        for f in codec.INVENTORY_FIELDS
    }
    return TankInventory(t.tank, t.product_code, t.status, **kw)


# -- checksums ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "check"),
    [
        (INVENTORY_FRAME, 0xE1BB),
        (INVENTORY_TANK2_FRAME, 0xEF79),
        (DELIVERY_FRAME, 0xE606),
        (ALARM_FRAME, 0xFA0D),
        (STATUS_FRAME, 0xFB3B),
        (codec.ERROR_REPLY, 0xFF1B),  # the error reply's checksum covers <SOH>9999, no &&
    ],
)
def test_checksum_table(frame: bytes, check: int) -> None:
    head = frame[:-5] if frame != codec.ERROR_REPLY else frame[:5]
    assert codec.checksum(head) == check
    assert (sum(head) + check) % 65536 == 0
    if frame != codec.ERROR_REPLY:  # the independent client's check agrees with ours
        assert TlsSocket._data_integrity_check(None, frame)  # type: ignore[arg-type]


def test_frame_appends_separator_checksum_and_etx() -> None:
    assert codec.frame("i101002312301342020402") == STATUS_FRAME


# -- commands ----------------------------------------------------------------------------------


def test_build_command() -> None:
    assert codec.build_command("201") == b"\x01i20100"
    assert codec.build_command("202", 3) == b"\x01i20203"
    assert codec.build_command("205", 12, security_code="AB12#$") == b"\x01AB12#$i20512"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("20",), {}), (("201", 100), {}), (("201",), {"security_code": "12345"})],
)
def test_build_command_rejects_bad_arguments(args: tuple, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        codec.build_command(*args, **kwargs)


def test_parse_command() -> None:
    assert codec.parse_command(b"\x01i20107") == Command("201", 7)
    assert codec.parse_command(b"\x01I20100").display
    assert codec.parse_command(b"\x01secreti20500", security_code="secret") == Command(
        "205", 0, "secret"
    )
    with pytest.raises(CommandRejectedError, match="security code"):
        codec.parse_command(b"\x01wrong!i20500", security_code="secret")
    with pytest.raises(BadFieldError, match="command type"):
        codec.parse_command(b"\x01x20100")
    with pytest.raises(TruncatedFrameError):
        codec.parse_command(b"\x01i201")


# -- parsing: see test_golden_frames.py (every golden frame, good and malformed) -------------


def test_alarm_types_are_the_manuals() -> None:
    report = codec.parse_alarms(ALARM_FRAME)
    assert [codec.alarm_type(a).code for a in report.tanks[1].alarms] == ["overfill", "probe_out"]
    assert codec.alarm_type(2).code == "tank_leak"
    assert codec.alarm_type(3).code == "high_water"
    assert codec.alarm_type(99).code == "tank_alarm_99"


# -- round trips -------------------------------------------------------------------------------


def test_round_trips() -> None:
    inventory = InventoryReport(AT, (TANK1_VALUES, TANK2_VALUES))
    parsed = codec.parse_inventory(codec.encode_inventory(inventory))
    assert parsed.time == AT
    assert [metric(t) for t in parsed.tanks] == [TANK1_VALUES, TANK2_VALUES]

    deliveries = codec.parse_deliveries(DELIVERY_FRAME)
    assert codec.encode_deliveries(deliveries) == DELIVERY_FRAME

    alarms = AlarmReport(
        AT, (TankAlarms(1, (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)), TankAlarms(3, ()))
    )
    assert codec.parse_alarms(codec.encode_alarms(alarms)) == alarms
    assert codec.encode_alarms(codec.parse_alarms(ALARM_FRAME)) == ALARM_FRAME

    assert codec.encode_inventory(codec.parse_inventory(INVENTORY_FRAME)) == INVENTORY_FRAME


def test_empty_reports() -> None:
    for encode, parse, report in [
        (codec.encode_inventory, codec.parse_inventory, InventoryReport(AT, ())),
        (codec.encode_deliveries, codec.parse_deliveries, DeliveryReport(AT, ())),
        (codec.encode_alarms, codec.parse_alarms, AlarmReport(AT, ())),
    ]:
        assert parse(encode(report)) == report  # type: ignore[operator]


# -- units and clocks --------------------------------------------------------------------------


def test_us_units_convert_to_metric() -> None:
    us = UnitSystem.US
    assert codec.to_metric("volume", 1000.0, us) == 3785.412
    assert codec.to_metric("length", 10.0, us) == 254.0
    assert codec.to_metric("temperature", 68.0, us) == 20.0
    assert codec.to_metric("temperature", -4.0, us) == -20.0
    for quantity in ("volume", "length", "temperature"):
        back = codec.from_metric(quantity, 1234.5, us)  # type: ignore[arg-type]
        assert codec.to_metric(quantity, back, us) == 1234.5  # type: ignore[arg-type]
    assert codec.from_metric("volume", 1234.5, UnitSystem.METRIC) == 1234.5


def test_console_clock_is_local_minutes() -> None:
    ms = 1_763_900_000_000  # 2025-11-23 12:13:20 UTC
    assert codec.device_time(ms, SHANGHAI) == AT
    assert codec.to_utc_ms(AT, SHANGHAI) == 1_763_899_980_000
    assert codec.to_utc_ms(AT, ZoneInfo("UTC")) == 1_763_928_780_000


# -- every malformed class ---------------------------------------------------------------------


def _f(body: str) -> bytes:
    """A correctly framed reply around ``body`` (so only the body is wrong)."""
    return codec.frame(body)


S = "2511232013"  # the report time every hand-written reply below carries

MALFORMED = [
    ("no SOH", INVENTORY_FRAME[1:], MissingSohError, "no SOH"),
    ("noise before SOH", b"XY" + INVENTORY_FRAME, MissingSohError, "2 bytes before SOH"),
    ("no ETX", INVENTORY_FRAME[:-1], MissingEtxError, "ETX"),
    ("cut short", INVENTORY_FRAME[:40], MissingEtxError, "ETX"),
    ("bad checksum", INVENTORY_FRAME[:-2] + b"C\x03", ChecksumError, "expected E1BB"),
    ("no && trailer", INVENTORY_FRAME[:-7] + INVENTORY_FRAME[-5:], ChecksumError, "trailer"),
    ("checksum not hex", INVENTORY_FRAME[:-5] + b"E1BZ\x03", ChecksumError, "not hex"),
    ("error reply", codec.ERROR_REPLY, CommandRejectedError, "rejected 'i20100'"),
    ("other function", DELIVERY_FRAME, EchoMismatchError, "'i20200'"),
    ("other tank", INVENTORY_TANK2_FRAME, EchoMismatchError, "'i20102'"),
    ("truncated float block", _f(f"i20100{S}{TANK1[:-3]}"), TruncatedFrameError, "float block"),
    ("truncated time", _f("i2010025112320"), TruncatedFrameError, "report time"),
    ("truncated tank", _f(f"i20100{S}011"), TruncatedFrameError, "tank 01 status"),
    ("bad hex float", _f(f"i20100{S}{TANK1[:-1]}G"), BadHexError, "water_volume"),
    ("bad hex status", _f(f"i20100{S}0110X00{TANK1[7:]}"), BadHexError, "status"),
    ("bad hex count", _f(f"i20100{S}0110000Z7{TANK1[9:]}"), BadHexError, "field count"),
    ("too few fields", _f(f"i20100{S}011000006{TANK1[9:-8]}"), FieldCountError, "6 float"),
    ("NaN float", _f(f"i20100{S}{TANK1[:-8]}7FC00000"), BadFieldError, "finite"),
    ("month 13", _f(f"i20100{'2513232013'}{TANK1}"), BadFieldError, "not a valid date"),
    ("non-digit time", _f(f"i20100{'251123201X'}{TANK1}"), BadFieldError, "YYMMDDHHmm"),
    ("non-digit tank", _f(f"i20100{S}0X{TANK1[2:]}"), BadFieldError, "tank number"),
]


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [pytest.param(f, e, m, id=name) for name, f, e, m in MALFORMED],
)
def test_malformed_inventory_frames(frame: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        codec.parse_inventory(frame)
    assert isinstance(info.value, DeviceError)


def test_non_ascii_with_valid_checksum_is_a_field_error() -> None:
    head = b"\x01i20100\xff2511232013&&"
    data = head + f"{codec.checksum(head):04X}".encode() + codec.ETX
    with pytest.raises(BadFieldError, match="not ASCII"):
        codec.parse_inventory(data)


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [
        pytest.param(
            _f(f"i20200{S}01102{DELIVERY1[5:]}"),
            TruncatedFrameError,
            "delivery 2 start",
            id="fewer deliveries than announced",
        ),
        pytest.param(
            _f(f"i20200{S}{DELIVERY1[:25]}09{DELIVERY1[27:99]}"),
            FieldCountError,
            "9 float fields",
            id="delivery field count",
        ),
        pytest.param(
            _f(f"i20200{S}{DELIVERY1[:5]}2511231813251123191"),
            TruncatedFrameError,
            "delivery 1 end",
            id="truncated delivery time",
        ),
        pytest.param(
            _f(f"i20200{S}0110X"), BadFieldError, "delivery count", id="count not decimal"
        ),
    ],
)
def test_malformed_delivery_frames(frame: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        codec.parse_deliveries(frame)


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [
        pytest.param(_f(f"i20500{S}02030409"), TruncatedFrameError, "alarm type", id="short"),
        pytest.param(_f(f"i20500{S}0201A4"), BadFieldError, "alarm type", id="hex type"),
        pytest.param(_f(f"i20500{S}020G"), BadHexError, "alarm count", id="count not hex"),
        pytest.param(INVENTORY_FRAME, EchoMismatchError, "i20100", id="inventory reply"),
    ],
)
def test_malformed_alarm_frames(frame: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        codec.parse_alarms(frame)
