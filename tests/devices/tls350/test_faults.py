"""A misbehaving console never stops the adapter: one fault alarm, recovery, one cleared alarm."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from fuelwatch.core.records import AlarmRecord, DeliveryRecord, InventoryRecord
from fuelwatch.gateway.adapters.tls350.errors import ReplyTimeoutError
from fuelwatch.sim.servers.tls350 import Fault, Tls350Console, Tls350TcpServer

from .helpers import FixedView, ListSink, make_adapter, make_config, running

FAST = {"poll_interval": 0.02, "timeout": 0.3, "retry": {"cap": 0.05}}


def polls(sink: ListSink) -> int:
    return len(sink.of(InventoryRecord)) // 2  # two tanks


async def assert_recovers(sink: ListSink, *, expect: str) -> None:
    await sink.wait_for(lambda s: len(s.faults()) == 2, what="device_fault raised and cleared")
    n = polls(sink)
    await sink.wait_for(lambda s: polls(s) >= n + 5, what="five polls after recovery")
    raised, cleared = sink.faults()
    assert (raised.active, cleared.active) == (True, False)
    assert expect in raised.message, raised.message
    assert cleared.message.startswith("recovered from: ")  # names the last failure
    assert len(sink.faults()) == 2  # still exactly one raise and one clear


@pytest.mark.parametrize(
    ("fault", "times", "expect"),
    [
        (Fault.DROP, 1, "ReplyTimeoutError: no reply to b'i20100' within 0.3s"),
        (Fault.GARBAGE, 1, "MissingSohError: reply has no SOH"),
        (Fault.BAD_CHECKSUM, 1, "ChecksumError: checksum"),
        (Fault.CLOSE, 1, "ConnectionClosedError: connection closed after"),
        (Fault.GARBAGE, 4, "MissingSohError"),  # several in a row: still one alarm
    ],
)
async def test_fault_then_recovery(
    tcp: dict[str, Any], console: Tls350Console, fault: Fault, times: int, expect: str
) -> None:
    adapter = make_adapter(make_config(tcp, **FAST))
    sink = ListSink()
    async with running(adapter, sink):
        await sink.wait_for(lambda s: polls(s) >= 2, what="first polls")
        console.inject(fault, times)
        await assert_recovers(sink, expect=expect)
    assert console.pending_faults == 0
    # the console's own records were not doubled by the reconnects
    assert len(sink.of(DeliveryRecord)) == 1
    assert [a.code for a in sink.of(AlarmRecord) if a.code != "device_fault"] == ["overfill"]


@pytest.mark.parametrize(("after", "command"), [(1, "i20200"), (2, "i20500")])
async def test_fault_inside_a_later_request_of_the_poll(
    tcp: dict[str, Any], console: Tls350Console, after: int, command: str
) -> None:
    """i201 answered, a later reply spoiled: the poll fails whole, its delivery is not lost."""
    config = make_config(tcp, timeout=0.3, delivery_interval=3600, alarm_interval=3600)
    adapter = make_adapter(config)
    try:
        console.inject(Fault.DROP, after=after)
        with pytest.raises(ReplyTimeoutError, match=command):
            await adapter.poll()
        await adapter.close()  # as PollingAdapter.run does after a fault
        records = await adapter.poll()  # i202 and i205 are read again, not an hour later
    finally:
        await adapter.close()
    assert [type(r).__name__ for r in records] == [
        "InventoryRecord",
        "InventoryRecord",
        "DeliveryRecord",
        "AlarmRecord",
    ]


async def test_console_stopped_then_restarted(view: FixedView) -> None:
    console = Tls350Console(view)
    server = Tls350TcpServer(console)
    await server.start()
    transport = {"kind": "tcp", "host": "127.0.0.1", "port": server.port}
    adapter = make_adapter(make_config(transport, **FAST))
    sink = ListSink()
    try:
        async with running(adapter, sink):
            await sink.wait_for(lambda s: polls(s) >= 2, what="first polls")
            await server.stop()
            await sink.wait_for(lambda s: len(s.faults()) == 1, what="fault raised")
            assert adapter.state() == "fault"
            await asyncio.sleep(0.3)  # several refused reconnects
            assert len(sink.faults()) == 1
            await server.start()  # same port
            await assert_recovers(sink, expect="")
            assert adapter.state() == "ok"
    finally:
        await server.stop()
    assert adapter.faults >= 2


async def test_console_not_there_at_start(view: FixedView) -> None:
    with socket.socket() as s:  # a port nobody listens on (yet)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = {"kind": "tcp", "host": "127.0.0.1", "port": port}
    adapter = make_adapter(make_config(transport, **FAST))
    sink = ListSink()
    async with running(adapter, sink):
        await sink.wait_for(lambda s: len(s.faults()) == 1, what="fault raised")
        assert "ConnectionRefusedError" in sink.faults()[0].message
        async with Tls350TcpServer(Tls350Console(view), port=port):
            await assert_recovers(sink, expect="ConnectionRefusedError")
