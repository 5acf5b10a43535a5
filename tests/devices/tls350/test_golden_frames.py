"""Both sides of TLS-350 against the golden frames in tests/data/frames/tls350/.

The gateway's codec decodes every frame to the values its case.yaml lists (or refuses it with
the listed error); the simulated console, which encodes with its own code, produces exactly
the frame's bytes from those values, and its faults spoil a good reply into exactly the
malformed frames. A mistake on either side fails against the data, not only a round trip.
"""

from __future__ import annotations

import struct
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fuelwatch.core.devices.tls350 import UnitSystem
from fuelwatch.gateway.adapters.tls350 import codec, errors
from fuelwatch.sim.protocols import tls350 as sim_protocol
from fuelwatch.sim.servers.tls350 import Fault, Tls350Console, spoil
from fuelwatch.sim.state import AlarmSnapshot, DeliverySnapshot, StationSnapshot, TankSnapshot
from tests.devices.golden import Tls350Case, params, parse_minute, tls350_case, tls350_cases

from .helpers import FixedView

CASES = tls350_cases()
REPORTS = [c for c in CASES if "tanks" in c.expect]
ERRORS = [c for c in CASES if c.is_error]
BY_VALUES = [c for c in REPORTS if c.not_simulated is None]
SPOILED = [c for c in ERRORS if "fault" in c.simulator]
REFUSED = [c for c in ERRORS if "requests" in c.simulator]
FRAMED = [c for c in CASES if "data" in c.expect]

PARSE = {"201": codec.parse_inventory, "202": codec.parse_deliveries, "205": codec.parse_alarms}
INVENTORY = ("volume", "tc_volume", "ullage", "height", "water", "temperature", "water_volume")
DELIVERY = (
    "start_volume", "start_tc_volume", "start_water", "start_temperature",
    "end_volume", "end_tc_volume", "end_water", "end_temperature", "start_height", "end_height",
)  # fmt: skip
# What each float measures, and the exact US conversions (1 US gal = 3.785411784 L, 1 in =
# 25.4 mm): written here a third time so neither side's constants are trusted.
LENGTHS = {"height", "water", "start_water", "end_water", "start_height", "end_height"}
TEMPERATURES = {"temperature", "start_temperature", "end_temperature"}


def f32(value: float) -> float:
    """``value`` as a single float carries it: what a frame's 8 hex digits hold."""
    return float(struct.unpack(">f", struct.pack(">f", value))[0])


def metric(name: str, value: float, units: UnitSystem) -> float:
    if units is UnitSystem.METRIC:
        return value
    if name in TEMPERATURES:
        return (value - 32.0) * 5.0 / 9.0
    return value * (25.4 if name in LENGTHS else 3.785411784)


def units_of(case: Tls350Case) -> UnitSystem:
    return UnitSystem(case.console["units"])


def utc_ms(local: str, tz: ZoneInfo, seconds: int) -> int:
    """The UTC ms at ``seconds`` past a console's local minute (the console drops seconds)."""
    moment = parse_minute(local).replace(tzinfo=tz).astimezone(UTC)
    return int(moment.timestamp()) * 1000 + seconds * 1000


# -- the gateway decodes ----------------------------------------------------------------------


@pytest.mark.parametrize("case", params(REPORTS))
def test_gateway_decodes_golden_report(case: Tls350Case) -> None:
    report: Any = PARSE[case.function](case.reply, tank=case.tank)
    assert report.time == case.time
    assert [t.tank for t in report.tanks] == [t["tank"] for t in case.expect["tanks"]]
    units = units_of(case)
    for got, want in zip(report.tanks, case.expect["tanks"], strict=True):
        if case.function == "205":
            assert list(got.alarms) == want["alarms"]
            continue
        assert got.product_code == want["product_code"]
        if case.function == "201":
            assert got.status == want["status"]
            pairs = [(name, getattr(got, name), want[name]) for name in INVENTORY]
        else:
            assert len(got.deliveries) == len(want["deliveries"])
            pairs = []
            for d, w in zip(got.deliveries, want["deliveries"], strict=True):
                assert (d.start, d.end) == (parse_minute(w["start"]), parse_minute(w["end"]))
                pairs += [(name, getattr(d, name), w[name]) for name in DELIVERY]
        for name, value, expected in pairs:
            assert value == f32(expected), name  # the very float the 8 hex digits carry
            # and what the adapter records: litres, mm, °C to 0.001
            quantity = codec.FIELD_QUANTITY[name]
            assert codec.to_metric(quantity, value, units) == round(
                metric(name, f32(expected), units), 3
            ), name


@pytest.mark.parametrize("case", params(FRAMED))
def test_gateway_unframes_a_real_console_reply(case: Tls350Case) -> None:
    command = codec.Command(case.function, case.tank)
    stamp = case.time.strftime("%y%m%d%H%M")
    assert codec.unframe(case.reply, command) == stamp + case.expect["data"]


@pytest.mark.parametrize("case", params(ERRORS))
def test_gateway_refuses_golden_malformed_frame(case: Tls350Case) -> None:
    error = getattr(errors, case.expect["error"])
    with pytest.raises(error, match=case.expect["message"]):
        PARSE[case.function](case.reply, tank=case.tank)


# -- the simulator encodes --------------------------------------------------------------------


def station_of(case: Tls350Case) -> StationSnapshot:
    """The station whose console, set up as the case says, sends the case's reply."""
    units, tz = units_of(case), ZoneInfo(case.console["timezone"])
    zeros = dict.fromkeys(INVENTORY, 0.0) | {"status": 0}
    now = utc_ms(case.expect["time"], tz, 20)
    tanks, deliveries, alarms = [], {}, []
    for t in [*case.expect["tanks"], *case.spec.get("station_extra_tanks", [])]:
        values = zeros | t
        tanks.append(
            TankSnapshot(
                tank=t["tank"],
                product="92",
                product_code=t.get("product_code", str(t["tank"])),
                status_bits=values["status"],
                **{name: metric(name, values[name], units) for name in INVENTORY},
            )
        )
        deliveries[t["tank"]] = [
            DeliverySnapshot(
                tank=t["tank"],
                product_code=t["product_code"],
                start=utc_ms(d["start"], tz, 35),
                end=utc_ms(d["end"], tz, 59),
                **{name: metric(name, d[name], units) for name in DELIVERY},
            )
            for d in t.get("deliveries", [])
        ]
        alarms += [AlarmSnapshot(t["tank"], a, now - 60_000) for a in t.get("alarms", [])]
    return StationSnapshot(now=now, tanks=tanks, deliveries=deliveries, alarms=alarms)


def console_of(case: Tls350Case) -> Tls350Console:
    view = FixedView(station_of(case))
    return Tls350Console(view, units=units_of(case), timezone=case.console["timezone"])


@pytest.mark.parametrize("case", params(BY_VALUES))
def test_simulator_encodes_golden_report(case: Tls350Case) -> None:
    assert console_of(case).answer(b"\x01" + case.command.encode()) == case.reply


@pytest.mark.parametrize("case", params(FRAMED))
def test_simulator_frames_a_real_console_reply(case: Tls350Case) -> None:
    stamp = case.time.strftime("%y%m%d%H%M")
    assert sim_protocol.frame(case.command + stamp + case.expect["data"]) == case.reply


@pytest.mark.parametrize("case", params(SPOILED))
def test_simulator_fault_spoils_a_reply_into_golden_frame(case: Tls350Case) -> None:
    good = tls350_case(case.simulator["of"])
    reply = console_of(good).answer(b"\x01" + good.command.encode())
    assert spoil(reply, Fault(case.simulator["fault"])) == case.reply


@pytest.mark.parametrize("case", params(REFUSED))
def test_simulator_answers_golden_error_reply(case: Tls350Case) -> None:
    console = console_of(tls350_case(case.simulator["of"]))
    for request in case.simulator["requests"]:
        assert console.answer(b"\x01" + request.encode()) == case.reply, request
    assert case.reply == sim_protocol.ERROR_REPLY


def test_every_golden_frame_is_checked_on_both_sides() -> None:
    """The gateway decodes or refuses each frame; the simulator produces each one, or the case
    says why a console never would (so a new case cannot silently go untested)."""
    for case in CASES:
        assert (case in REPORTS) + (case in ERRORS) + (case in FRAMED) == 1, case.name
        simulated = case in BY_VALUES or case in SPOILED or case in REFUSED or case in FRAMED
        assert simulated != bool(case.not_simulated), case.name
    assert len(CASES) == 16
