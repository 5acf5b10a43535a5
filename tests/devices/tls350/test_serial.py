"""The same console over a serial line: a socat pty pair, the simulator on one end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from fuelwatch.core.records import AlarmRecord, InventoryRecord
from fuelwatch.sim.servers.tls350 import Fault, SocatPtyPair, Tls350Console, Tls350SerialServer

from .helpers import DELIVERY, INVENTORY, OVERFILL, ListSink, make_adapter, make_config, running


@pytest.fixture
async def serial_server(
    console: Tls350Console, pty_pair: SocatPtyPair
) -> AsyncIterator[Tls350SerialServer]:
    async with Tls350SerialServer(console, pty_pair.sim_path) as server:
        yield server


@pytest.fixture
def serial(pty_pair: SocatPtyPair, serial_server: Tls350SerialServer) -> dict[str, Any]:
    return {"kind": "serial", "device": str(pty_pair.gateway_path)}


async def test_one_poll_over_serial_gives_exact_records(serial: dict[str, Any]) -> None:
    # the reply timeout only bounds a wait: a 9600-baud reply through socat on a loaded 2-core
    # machine once took over 2 s (issue 12); a generous one costs nothing when all is well
    adapter = make_adapter(make_config(serial, timeout=15.0))
    try:
        assert await adapter.poll() == [*INVENTORY, DELIVERY, OVERFILL]
        assert await adapter.poll() == [*INVENTORY, DELIVERY, OVERFILL]  # nothing committed
    finally:
        await adapter.close()


async def test_serial_line_noise_then_recovery(
    serial: dict[str, Any], console: Tls350Console
) -> None:
    adapter = make_adapter(make_config(serial, poll_interval=0.02, timeout=0.5, retry={"cap": 0.1}))
    sink = ListSink()
    async with running(adapter, sink):
        await sink.wait_for(lambda s: len(s.of(InventoryRecord)) >= 2, what="first polls")
        console.inject(Fault.GARBAGE)
        console.inject(Fault.BAD_CHECKSUM)
        await sink.wait_for(lambda s: len(s.faults()) == 2, what="fault raised and cleared")
        n = len(sink.of(InventoryRecord))
        await sink.wait_for(lambda s: len(s.of(InventoryRecord)) >= n + 4, what="polls resume")
    raised, cleared = sink.faults()
    assert (raised.active, cleared.active) == (True, False)
    assert "MissingSohError" in raised.message


async def test_unplug_and_replug(serial: dict[str, Any], pty_pair: SocatPtyPair) -> None:
    adapter = make_adapter(make_config(serial, poll_interval=0.02, timeout=0.5, retry={"cap": 0.1}))
    sink = ListSink()
    async with running(adapter, sink):
        await sink.wait_for(lambda s: len(s.of(InventoryRecord)) >= 2, what="first polls")
        await pty_pair.stop()  # cable out: both pty ends vanish
        await sink.wait_for(lambda s: len(s.faults()) == 1, what="fault raised")
        assert adapter.state() == "fault"
        await pty_pair.start()  # cable back in; the simulator reopens its end by itself
        await sink.wait_for(lambda s: len(s.faults()) == 2, timeout=20, what="fault cleared")
        n = len(sink.of(InventoryRecord))
        await sink.wait_for(lambda s: len(s.of(InventoryRecord)) >= n + 4, what="polls resume")
    assert [f.active for f in sink.faults()] == [True, False]
    assert adapter.state() == "ok"
    # the console's own alarm was raised once, not again after the reconnect
    assert [a for a in sink.of(AlarmRecord) if a.code != "device_fault"] == [OVERFILL]
