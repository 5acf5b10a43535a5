"""The adapter reads the simulated console over TCP and produces exactly the expected records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from fuelwatch.core.devices.tls350 import UnitSystem
from fuelwatch.core.records import AlarmRecord, DeliveryRecord, InventoryRecord
from fuelwatch.gateway.adapters.base import AdapterContext
from fuelwatch.gateway.adapters.registry import DeviceConfig, build_adapter
from fuelwatch.gateway.adapters.tls350.adapter import Tls350Adapter
from fuelwatch.gateway.adapters.tls350.errors import CommandRejectedError, ReplyTimeoutError
from fuelwatch.sim.servers.tls350 import Tls350Console, Tls350TcpServer
from fuelwatch.sim.state import AlarmSnapshot

from .helpers import (
    DELIVERY,
    HOUR,
    INVENTORY,
    OVERFILL,
    T0,
    T0_MINUTE,
    FixedView,
    ListSink,
    delivery,
    make_adapter,
    make_config,
    running,
)


async def poll_and_commit(adapter: Tls350Adapter, sink: ListSink) -> list[Any]:
    """One poll as ``run`` does it: records to the sink, then the ledger is committed."""
    records = await adapter.poll()
    if records:
        await sink.put(adapter.device_id, records)
        adapter.commit()
    return records


async def test_one_poll_gives_exact_records(tcp: dict[str, Any]) -> None:
    adapter = make_adapter(make_config(tcp))
    try:
        assert await adapter.poll() == [*INVENTORY, DELIVERY, OVERFILL]
    finally:
        await adapter.close()


async def test_run_loop_emits_each_delivery_and_alarm_once(
    tcp: dict[str, Any], view: FixedView
) -> None:
    adapter = make_adapter(make_config(tcp, poll_interval=0.01))
    sink = ListSink()
    async with running(adapter, sink):
        await sink.wait_for(lambda s: len(s.of(InventoryRecord)) >= 10, what="5 polls")
        assert sink.of(DeliveryRecord) == [DELIVERY]
        assert sink.of(AlarmRecord) == [OVERFILL]

        second = delivery(2, T0 - HOUR // 2, T0 - HOUR // 4, product_code="2")
        view.update(deliveries={**view.snap.deliveries, 2: [second]}, alarms=[])
        await sink.wait_for(lambda s: len(s.of(DeliveryRecord)) == 2, what="second delivery")
        await sink.wait_for(lambda s: len(s.of(AlarmRecord)) == 2, what="alarm cleared")
        n = len(sink.of(InventoryRecord))
        await sink.wait_for(lambda s: len(s.of(InventoryRecord)) >= n + 10, what="5 more polls")
    new = sink.of(DeliveryRecord)[1]
    assert (new.tank, new.product, new.start, new.end) == (
        2,
        "2",
        T0_MINUTE - HOUR // 2,
        T0_MINUTE - HOUR // 4,
    )
    assert len(sink.of(DeliveryRecord)) == 2
    cleared = sink.of(AlarmRecord)[1]
    assert (cleared.code, cleared.active, cleared.tank) == ("overfill", False, 2)
    assert sink.faults() == []


async def test_state_file_survives_a_restart(
    tcp: dict[str, Any], view: FixedView, tmp_path: Path
) -> None:
    state = tmp_path / "atg1.json"
    config = make_config(tcp, state_file=state)
    sink = ListSink()

    first = make_adapter(config)
    assert DELIVERY in await poll_and_commit(first, sink)
    await first.close()
    assert state.exists()

    view.update(alarms=[*view.snap.alarms, AlarmSnapshot(tank=1, alarm_type=2, since=T0)])
    restarted = make_adapter(config)
    records = await poll_and_commit(restarted, sink)
    await restarted.close()
    assert records[:2] == INVENTORY
    # the old delivery and the overfill alarm are not reported again; the new leak alarm is
    assert [(r.code, r.active, r.tank) for r in records[2:]] == [("tank_leak", True, 1)]


async def test_records_the_sink_never_got_are_reported_again(tcp: dict[str, Any]) -> None:
    adapter = make_adapter(make_config(tcp))
    try:
        assert DELIVERY in await adapter.poll()  # the sink failed: no commit
        assert DELIVERY in await adapter.poll()
        adapter.commit()
        assert await adapter.poll() == INVENTORY
    finally:
        await adapter.close()


async def test_deliveries_and_alarms_are_read_less_often(
    tcp: dict[str, Any], console: Tls350Console
) -> None:
    adapter = make_adapter(make_config(tcp, delivery_interval=3600, alarm_interval=3600))
    try:
        for _ in range(3):
            await adapter.poll()
    finally:
        await adapter.close()
    assert console.requests == 3 + 1 + 1  # i201 each poll, i202 and i205 once


async def test_tank_filter_and_product_names(tcp: dict[str, Any]) -> None:
    adapter = make_adapter(make_config(tcp, tanks=[2], products={"2": "95"}))
    try:
        records = await adapter.poll()
    finally:
        await adapter.close()
    assert records == [
        INVENTORY[1].model_copy(update={"product": "95"}),
        OVERFILL,
    ]


async def test_us_units_console(view: FixedView) -> None:
    """A console set up in gallons/inches/°F gives the same records once converted."""
    console = Tls350Console(view, units=UnitSystem.US)
    async with Tls350TcpServer(console) as server:
        transport = {"kind": "tcp", "host": "127.0.0.1", "port": server.port}
        adapter = make_adapter(make_config(transport, units="us"))
        try:
            records = await adapter.poll()
        finally:
            await adapter.close()
    expected = [*INVENTORY, DELIVERY, OVERFILL]
    assert len(records) == len(expected)
    for got, want in zip(records, expected, strict=True):
        for name, value in want.model_dump().items():
            if isinstance(value, float):
                assert getattr(got, name) == pytest.approx(value, abs=0.002), name
            else:
                assert getattr(got, name) == value, name


async def test_security_code(view: FixedView) -> None:
    console = Tls350Console(view, security_code="Pa55w0")
    async with Tls350TcpServer(console) as server:
        transport = {"kind": "tcp", "host": "127.0.0.1", "port": server.port}
        good = make_adapter(make_config(transport, security_code="Pa55w0"))
        wrong = make_adapter(make_config(transport, security_code="guess!"))
        missing = make_adapter(make_config(transport, timeout=0.3))
        try:
            assert len(await good.poll()) == 4
            with pytest.raises(CommandRejectedError):
                await wrong.poll()
            # the console waits for the six characters it expects: no answer at all
            with pytest.raises(ReplyTimeoutError):
                await missing.poll()
        finally:
            for adapter in (good, wrong, missing):
                await adapter.close()


async def test_console_timezone_setting(tcp: dict[str, Any]) -> None:
    adapter = make_adapter(make_config(tcp, timezone="UTC"))
    try:
        records = await adapter.poll()
    finally:
        await adapter.close()
    # the console prints Shanghai time; read as UTC it is 8 hours later
    assert records[0].ts == T0_MINUTE + 8 * HOUR


def test_config_is_chosen_by_type_in_the_registry() -> None:
    parse = TypeAdapter(DeviceConfig).validate_python
    config = parse(
        {"id": "atg1", "type": "tls350", "transport": {"kind": "serial", "device": "/dev/ttyS0"}}
    )
    adapter = build_adapter(config, AdapterContext("d", "s"))
    assert isinstance(adapter, Tls350Adapter)
    assert adapter.describe_transport() == "serial /dev/ttyS0 9600 8N1"
    tcp = parse({"id": "a", "type": "tls350", "transport": {"kind": "tcp", "host": "10.0.0.5"}})
    assert tcp.transport.port == 10001  # type: ignore[attr-defined]
    assert tcp.units is UnitSystem.METRIC  # type: ignore[attr-defined]
    for bad in (
        {"timezone": "Mars/Olympus"},
        {"security_code": "short"},
        {"units": "imperial"},
        {"products": {"12": "92"}},
        {"transport": {"kind": "tcp"}},
    ):
        settings = {"id": "a", "type": "tls350", "transport": {"kind": "tcp", "host": "h"}}
        with pytest.raises(ValidationError):
            parse(settings | bad)
