"""What counts as reported: only records that reached the spool; and memory across restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fuelwatch.core.records import BaseRecord, TransactionRecord
from fuelwatch.gateway.adapters.modbus import ModbusAdapter
from fuelwatch.sim.servers.modbus import ModbusSimServer
from tests.devices.modbus.conftest import (
    PROFILES,
    T0,
    Clock,
    FixedView,
    ListSink,
    eventually,
    kinds,
    make_adapter,
    poll,
    sale,
    station,
)

COLLECTOR = "taxcontrol_dispenser_collector.yaml"


@pytest.fixture
def view() -> FixedView:
    return FixedView(station(nozzles=2))


@pytest.fixture
async def server(view: FixedView) -> AsyncIterator[ModbusSimServer]:
    async with ModbusSimServer(view, PROFILES / COLLECTOR, count=2, tcp=("127.0.0.1", 0)) as server:
        yield server


def adapter_for(server: ModbusSimServer, **settings: Any) -> ModbusAdapter:
    transport = {"kind": "tcp", "host": "127.0.0.1", "port": server.port}
    return make_adapter(COLLECTOR, transport, clock=Clock(T0 + 3_600_000), nozzles=2, **settings)


async def test_records_that_never_reached_the_spool_are_reported_again(
    server: ModbusSimServer, view: FixedView
) -> None:
    adapter = adapter_for(server)
    try:
        await poll(adapter)
        view.nozzle(1, state="lifted")
        assert kinds(await adapter.poll()) == ["lift"]  # ... and the spool put fails: no commit
        view.nozzle(1, state="idle", last=sale(2))
        assert kinds(await adapter.poll()) == ["lift", "hang", "txn#880002"]  # sale as a whole
        adapter.commit()
        assert kinds(await poll(adapter)) == []
    finally:
        await adapter.close()


async def test_run_commits_after_the_sink_stored_the_records(
    server: ModbusSimServer, view: FixedView
) -> None:
    class FailingOnce(ListSink):
        failed = False

        async def put(self, device: str, records: Sequence[BaseRecord]) -> None:
            if any(isinstance(r, TransactionRecord) for r in records) and not self.failed:
                self.failed = True
                raise OSError("disk full")
            await super().put(device, records)

    adapter = adapter_for(server, poll_interval=0.02)
    sink = FailingOnce()
    try:
        await poll(adapter)  # learns the counters
        view.nozzle(1, last=sale(2))
        with pytest.raises(OSError, match="disk full"):  # the gateway restarts a crashed adapter
            await asyncio.wait_for(adapter.run(sink), 10)
        assert kinds(sink.records) == []
        task = asyncio.create_task(adapter.run(sink))
        try:
            await eventually(lambda: "txn#880002" in kinds(sink.records))
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert kinds(sink.records) == ["lift", "hang", "txn#880002"]
    finally:
        await adapter.close()


async def test_state_file_carries_the_counter_across_a_restart(
    server: ModbusSimServer, view: FixedView, tmp_path: Path
) -> None:
    state = tmp_path / "disp1.json"
    first = adapter_for(server, state_file=state)
    await poll(first)
    await first.close()
    saved = json.loads(state.read_text())
    assert saved["state"]["nozzles"]["1"]["seq"] == 1

    # the gateway is down while nozzle 1 sells twice
    view.nozzle(1, last=sale(3, volume=12.0))
    second = adapter_for(server, state_file=state)
    try:
        records = await poll(second)
    finally:
        await second.close()
    assert kinds(records) == ["alarm:transactions_missed:on", "lift", "hang", "txn#880003"]
    assert "1 transaction(s) could not be read" in records[0].message  # type: ignore[attr-defined]

    # without a state file the same restart would report nothing
    view.nozzle(1, last=sale(5))
    third = adapter_for(server)
    try:
        assert kinds(await poll(third), totalizers=False) == []
    finally:
        await third.close()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"version": 1, "layout": "other.yaml:[1, 2]", "state": {}}',
        '{"version": 1, "layout": "taxcontrol_dispenser_collector.yaml:[1, 2]", "state": {}}',
    ],
)
async def test_a_bad_state_file_is_ignored_with_a_warning(
    server: ModbusSimServer, tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "disp1.json"
    state.write_text(content)
    adapter = adapter_for(server, state_file=state)
    try:
        await poll(adapter)
    finally:
        await adapter.close()
    assert "starting afresh" in caplog.text
    assert json.loads(state.read_text())["state"]["nozzles"]["2"]["seq"] == 2
