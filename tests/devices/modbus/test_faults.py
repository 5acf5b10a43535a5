"""Device faults: the adapter keeps running, reports each outage once, and recovers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fuelwatch.core.records import InventoryRecord
from fuelwatch.gateway.adapters.modbus import ModbusAdapter
from fuelwatch.gateway.adapters.modbus.errors import ModbusExceptionReply, ModbusUnreachable
from fuelwatch.sim.servers.modbus import ModbusSimServer
from tests.devices.modbus.conftest import (
    PROFILES,
    FixedView,
    ListSink,
    eventually,
    make_adapter,
    station,
)

PROFILE = "veeder_root_tls_modbus.yaml"
Step = Callable[[], Awaitable[None]]
FAST = {"poll_interval": 0.05, "timeout": 0.3, "retry": {"cap": 0.2}, "retries": 0, "tanks": 2}


@contextlib.asynccontextmanager
async def running(adapter: ModbusAdapter, sink: ListSink) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(adapter.run(sink), name="adapter")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await adapter.close()


def inventory(sink: ListSink) -> int:
    return sum(isinstance(r, InventoryRecord) for r in sink.records)


async def outage_and_recovery(
    adapter: ModbusAdapter, sink: ListSink, start: Step, stop: Step
) -> str:
    """Break the device with ``stop()``, mend it with ``start()``; return the fault message."""
    async with running(adapter, sink) as task:
        await eventually(lambda: inventory(sink) >= 4, what="readings before the fault")
        await stop()
        await eventually(lambda: adapter.state() == "fault", what="the fault to be noticed")
        during = inventory(sink)
        failed = adapter.faults
        await eventually(lambda: adapter.faults >= failed + 3, what="more failing polls")
        assert inventory(sink) == during  # nothing invented while the device is away
        await start()
        await eventually(
            lambda: adapter.state() == "ok" and inventory(sink) >= during + 4, what="recovery"
        )
        assert not task.done()
    faults = sink.alarms("device_fault")
    assert [a.active for a in faults] == [True, False]  # one raise, one clear: not one per poll
    assert faults[1].message.startswith("recovered from: ")
    return faults[0].message


def faults(server: ModbusSimServer, **knobs: Any) -> Step:
    """An async step for ``outage_and_recovery`` that sets the server's fault knobs."""

    async def apply() -> None:
        for name, value in knobs.items():
            setattr(server.faults, name, value)

    return apply


@pytest.fixture
async def tcp_server() -> AsyncIterator[ModbusSimServer]:
    server = ModbusSimServer(
        FixedView(station(tanks=2)), PROFILES / PROFILE, count=2, tcp=("127.0.0.1", 0)
    )
    async with server:
        yield server


def tcp_adapter(server: ModbusSimServer) -> ModbusAdapter:
    return make_adapter(PROFILE, {"kind": "tcp", "host": "127.0.0.1", "port": server.port}, **FAST)


async def test_tcp_server_stopped_and_restarted(tcp_server: ModbusSimServer) -> None:
    adapter, sink = tcp_adapter(tcp_server), ListSink()
    message = await outage_and_recovery(adapter, sink, tcp_server.start, tcp_server.stop)
    assert f"127.0.0.1:{tcp_server.port} unit 1" in message


async def test_tcp_device_that_stops_answering_times_out(tcp_server: ModbusSimServer) -> None:
    adapter, sink = tcp_adapter(tcp_server), ListSink()

    silent, talking = faults(tcp_server, silent=True), faults(tcp_server, silent=False)
    message = await outage_and_recovery(adapter, sink, talking, silent)
    assert message.startswith("ModbusTimeout: ")
    assert "no reply to read of holding 40" in message


async def test_exception_responses(tcp_server: ModbusSimServer) -> None:
    adapter, sink = tcp_adapter(tcp_server), ListSink()

    busy, fine = faults(tcp_server, exception=6), faults(tcp_server, exception=None)
    message = await outage_and_recovery(adapter, sink, fine, busy)
    assert message.startswith("ModbusExceptionReply: ")
    assert "exception 6 (server device busy) in reply to read of holding 40001-40032" in message


async def test_dropped_connection_reconnects(tcp_server: ModbusSimServer) -> None:
    adapter, sink = tcp_adapter(tcp_server), ListSink()
    async with running(adapter, sink):
        await eventually(lambda: inventory(sink) >= 2)
        for _ in range(3):
            assert tcp_server.drop_connections() == 1
            wanted = inventory(sink) + 2
            await eventually(lambda n=wanted: inventory(sink) >= n, what="readings after the drop")
    assert adapter.state() == "ok"


async def test_wrong_unit_id_is_a_clear_fault(tcp_server: ModbusSimServer) -> None:
    adapter = make_adapter(
        PROFILE, {"kind": "tcp", "host": "127.0.0.1", "port": tcp_server.port}, unit_id=9, **FAST
    )
    sink = ListSink()
    async with running(adapter, sink):
        await eventually(lambda: adapter.state() == "fault")
    (alarm,) = sink.alarms("device_fault")
    assert "unit 9: exception 4" in alarm.message


async def test_nothing_listening() -> None:
    adapter = make_adapter(PROFILE, {"kind": "tcp", "host": "127.0.0.1", "port": 9}, **FAST)
    with pytest.raises(ModbusUnreachable, match=r"127.0.0.1:9 unit 1: cannot connect"):
        await adapter.poll()
    assert adapter._client is None


async def test_missing_serial_port(tmp_path: Path) -> None:
    adapter = make_adapter(PROFILE, {"kind": "rtu", "device": str(tmp_path / "ttyUSB7")}, **FAST)
    with pytest.raises(ModbusUnreachable, match=r"serial port .*ttyUSB7 does not exist"):
        await adapter.poll()


async def test_rtu_server_stopped_restarted_and_silent(pty_pair: tuple[str, str]) -> None:
    device_end, gateway_end = pty_pair
    server = ModbusSimServer(
        FixedView(station(tanks=2)), PROFILES / PROFILE, count=2, serial=device_end
    )
    adapter = make_adapter(PROFILE, {"kind": "rtu", "device": gateway_end}, **FAST)
    async with server:
        sink = ListSink()
        message = await outage_and_recovery(adapter, sink, server.start, server.stop)
        assert message.startswith("ModbusTimeout: ")
        assert f"{gateway_end} 9600 8N1 unit 1: no reply" in message

        silent, talking = faults(server, silent=True), faults(server, silent=False)
        await outage_and_recovery(adapter, ListSink(), talking, silent)


async def test_a_value_the_device_cannot_carry_is_a_device_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pneumercator volumes are u32 litres: rather than wrap a negative volume around, the
    simulator answers exception 4 (server device failure) and logs which value did not fit."""
    pneumercator = "pneumercator_tms3000.yaml"
    snapshot = station(tanks=2)
    view = FixedView(
        replace(snapshot, tanks=[snapshot.tanks[0], replace(snapshot.tanks[1], volume=-5.0)])
    )
    async with ModbusSimServer(
        view, PROFILES / pneumercator, count=2, tcp=("127.0.0.1", 0)
    ) as server:
        adapter = make_adapter(
            pneumercator,
            {"kind": "tcp", "host": "127.0.0.1", "port": server.port},
            products={1: "92", 2: "95"},
            **FAST,
        )
        try:
            with pytest.raises(ModbusExceptionReply, match="exception 4"):
                await adapter.poll()
        finally:
            await adapter.close()
        assert server.requests == 0
    assert "volume of instance 2 at 40022: -5 does not fit u32" in caplog.text
