"""Both sides of Modbus against the golden register images in tests/data/frames/modbus/.

Each case is a profile (a shipped one, or its own profile.yaml), the values per tank/nozzle in
our units and every mapped register as it travels. The gateway's codec reads the image with
the reads it plans and must decode the values; the simulator's own encoder must produce
exactly the image from the values. Every value type appears in every word order.
"""

from __future__ import annotations

import pytest

from fuelwatch.core.devices.profile import load_profile, parse_address
from fuelwatch.gateway.adapters.modbus.codec import RegisterMap
from fuelwatch.sim.protocols.modbus import Layout
from tests.devices.golden import ModbusCase, modbus_cases, params

CASES = modbus_cases()


def image(case: ModbusCase) -> dict[tuple[str, int], int]:
    """(table, PDU address) -> word, from the case's Modicon addresses."""
    out = {}
    for number, word in case.registers.items():
        address = parse_address(number)
        out[address.table, address.pdu] = word
    return out


@pytest.mark.parametrize("case", params(CASES))
def test_gateway_decodes_golden_registers(case: ModbusCase) -> None:
    profile = load_profile(case.profile)
    registers = RegisterMap(profile, case.count)
    words = image(case)
    replies = [
        (read, [words.get((read.table, read.start + i), 0) for i in range(read.count)])
        for read in registers.plan()  # unmapped words a read spans arrive as 0
    ]
    decoded = registers.decode(replies)
    assert decoded.keys() == case.values.keys()
    for instance, expected in case.values.items():
        assert decoded[instance].keys() == expected.keys(), instance
        for key, want in expected.items():
            got = decoded[instance][key]
            register = profile.register(key)
            assert register is not None
            if register.quantity == "integer":  # counters, codes, flags stay integers
                assert isinstance(got, int), (instance, key)
            if isinstance(want, int):  # whole numbers (and epoch ms) exactly
                assert got == want, (instance, key)
            else:  # an f32 carries 7 significant digits, and the decoder reports no more
                assert got == pytest.approx(want, rel=1e-6, abs=1e-9), (instance, key)


@pytest.mark.parametrize("case", params(CASES))
def test_simulator_encodes_golden_registers(case: ModbusCase) -> None:
    layout = Layout(load_profile(case.profile), case.count)
    got = {
        (table, pdu): word
        for table in ("holding", "input")
        for pdu, word in layout.words(case.values, table).items()
    }
    assert got == image(case)


def test_every_word_order_and_type_is_covered() -> None:
    seen = set()
    for case in CASES:
        profile = load_profile(case.profile)
        for block in profile.blocks:
            for reg in block.registers:
                seen.add((reg.word_order or profile.word_order, reg.type))
    orders, types = ("ABCD", "CDAB", "BADC", "DCBA"), ("u16", "i16", "u32", "i32")
    assert {(o, t) for o in orders for t in (*types, "u64", "i64", "f32", "f64")} <= seen
