"""Every shipped profile, served by the simulator and read by the adapter over TCP and RTU."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from fuelwatch.core.records import (
    AlarmRecord,
    BaseRecord,
    InventoryRecord,
    TotalizerRecord,
    TransactionRecord,
)
from fuelwatch.gateway.adapters.modbus import ModbusAdapter
from fuelwatch.sim.servers.modbus import ModbusSimServer
from fuelwatch.sim.state import AlarmSnapshot
from tests.devices.modbus.conftest import (
    PROFILES,
    T0,
    Clock,
    FixedView,
    kinds,
    make_adapter,
    poll,
    sale,
    station,
    tank,
)

PNEUMERCATOR = "pneumercator_tms3000.yaml"
VEEDER_ROOT = "veeder_root_tls_modbus.yaml"
COLLECTOR = "taxcontrol_dispenser_collector.yaml"

Serve = Callable[..., Any]


@pytest.fixture(params=["tcp", "rtu"])
def serve(request: pytest.FixtureRequest) -> Serve:
    """serve(view, profile, count, **adapter settings) -> (server, adapter), either transport."""

    @asynccontextmanager
    async def run(
        view: FixedView,
        profile: str,
        count: int,
        *,
        unit_id: int = 1,
        numbers: list[int] | None = None,
        **settings: Any,
    ) -> AsyncIterator[tuple[ModbusSimServer, ModbusAdapter]]:
        transport: dict[str, Any]
        if request.param == "tcp":
            server = ModbusSimServer(
                view, PROFILES / profile, count=count, numbers=numbers, unit_id=unit_id,
                tcp=("127.0.0.1", 0),
            )  # fmt: skip
            await server.start()
            transport = {"kind": "tcp", "host": "127.0.0.1", "port": server.port}
        else:
            device_end, gateway_end = request.getfixturevalue("pty_pair")
            server = ModbusSimServer(
                view, PROFILES / profile, count=count, numbers=numbers, unit_id=unit_id,
                serial=device_end, baudrate=19200,
            )  # fmt: skip
            await server.start()
            # 8N1: some kernels' ptys refuse to re-apply a parity setting (EINVAL), and a pty
            # has no line to apply it to anyway; framing and CRC are what is tested here
            transport = {"kind": "rtu", "device": gateway_end, "baudrate": 19200}
        try:
            count_key = "tanks" if server.profile.kind == "tank_gauge" else "nozzles"
            settings[count_key] = count
            adapter = make_adapter(
                profile, transport, unit_id=unit_id, numbers=numbers, timeout=1.0, **settings
            )
            try:
                yield server, adapter
            finally:
                await adapter.close()
        finally:
            await server.stop()

    return run


def by_type(records: list[BaseRecord], cls: type[BaseRecord]) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


async def test_pneumercator(serve: Serve) -> None:
    view = FixedView(station(tanks=5))
    products = {1: "92", 2: "95", 3: "98", 4: "0", 5: "92"}
    async with serve(view, PNEUMERCATOR, 5, products=products) as (server, adapter):
        records = await poll(adapter)
    assert server.requests == len(adapter.reads) == 1
    inventory = by_type(records, InventoryRecord)
    assert [r.tank for r in inventory] == [1, 2, 3, 4, 5]
    for record, snap in zip(inventory, view.current.tanks, strict=True):
        assert record.product == products[snap.tank]
        # integers in L and mm, temperature in 0.1 °C: exact for these values
        assert record.volume == snap.volume
        assert record.tc_volume == snap.tc_volume
        assert record.ullage == snap.ullage
        assert record.height == snap.height
        assert record.water == snap.water
        assert record.temperature == pytest.approx(snap.temperature, abs=1e-9)
        # the gateway sends the canonical word: the snapshot's delivery, leak test and probe
        # error; the sim serves DB7 "product motion" as 1, which this console means as still
        # (active low), so the canonical motion bit 0x0004 stays clear
        raw = snap.status_bits  # the snapshot's i201 layout: delivery, leak test, probe error
        expected = (raw & 1) | (0x0002 if raw & 0b10 else 0) | (0x0008 if raw & 0b100 else 0)
        assert record.status == expected
        assert record.tc_reference == 15.0  # the profile's net volume reference
        assert record.water_volume is None  # the console does not report it


async def test_pneumercator_resolution(serve: Serve) -> None:
    """The console reports whole mm and L and tenths of a degree: the sim rounds like it."""
    odd = tank(1, "92", volume=12345.6, tc_volume=12300.4, height=1234.56, water=-0.4,
               temperature=-3.14)  # fmt: skip
    view = FixedView(replace(station(tanks=1), tanks=[odd]))
    async with serve(view, PNEUMERCATOR, 1, products={1: "92"}) as (_server, adapter):
        (record,) = await poll(adapter)
    assert isinstance(record, InventoryRecord)
    assert (record.volume, record.tc_volume, record.height, record.water) == (12346, 12300, 1235, 0)
    assert record.temperature == pytest.approx(-3.1)


async def test_veeder_root_with_alarms(serve: Serve) -> None:
    alarms = [
        AlarmSnapshot(tank=2, alarm_type=4, since=T0),
        AlarmSnapshot(tank=3, alarm_type=2, since=T0),
    ]
    view = FixedView(station(tanks=3, alarms=alarms))
    async with serve(view, VEEDER_ROOT, 3, unit_id=17) as (server, adapter):
        records = await poll(adapter)
        assert server.requests == 3  # one 29-register read per tank page
        view.current = station(tanks=3)  # alarms cleared
        cleared = await poll(adapter)
    inventory = by_type(records, InventoryRecord)
    for record, snap in zip(inventory, view.current.tanks, strict=True):
        assert record.product == snap.product
        for name in ("volume", "tc_volume", "ullage", "height", "water", "water_volume"):
            # gallons and inches as f32 on the wire: 7 significant digits survive
            assert getattr(record, name) == pytest.approx(getattr(snap, name), rel=2e-7), name
        assert record.temperature == pytest.approx(snap.temperature, abs=1e-4)
        assert record.status == snap.status_bits
    raised = {(a.tank, a.code, a.severity) for a in by_type(records, AlarmRecord)}
    assert raised == {(2, "overfill", "critical"), (3, "tank_leak", "critical")}
    assert {(a.tank, a.code, a.active) for a in by_type(cleared, AlarmRecord)} == {
        (2, "overfill", False),
        (3, "tank_leak", False),
    }


async def test_tax_control_collector_values(serve: Serve) -> None:
    view = FixedView(station(nozzles=4))
    clock = Clock(T0 + 7_200_000)
    async with serve(view, COLLECTOR, 4, clock=clock) as (server, adapter):
        first = await poll(adapter)
        assert server.requests == len(adapter.reads) == 2
        totals = by_type(first, TotalizerRecord)
        assert [(t.nozzle, t.product, t.volume_total, t.amount_total) for t in totals] == [
            (n.nozzle, n.product, n.volume_total, n.amount_total) for n in view.current.nozzles
        ]
        assert by_type(first, TransactionRecord) == []  # the sale already there is history
        view.nozzle(2, last=sale(9, volume=41.37, price=8.03, total=200_041.37))
        clock.now += 1000
        second = await poll(adapter)
    (txn,) = by_type(second, TransactionRecord)
    expected = sale(9, volume=41.37, price=8.03, total=200_041.37)
    assert txn.model_dump(exclude={"rid", "gts"}) == {
        "ts": expected.end,
        "nozzle": 2,
        "product": "95",
        "order_id": expected.order_id,
        "unit_price": 8.03,
        "volume": 41.37,
        "amount": expected.amount,
        "paid": expected.paid,
        "start": expected.start,
        "end": expected.end,
        "totalizer_before": 200_000.0,
        "totalizer_after": 200_041.37,
    }
    missed = by_type(second, AlarmRecord)
    assert [(a.code, a.nozzle) for a in missed] == [("transactions_missed", 2)]  # 2 -> 9


async def test_dispenser_lift_fuel_hang_sale_over_the_wire(serve: Serve) -> None:
    # the device's nozzles 1 and 2 are the station's nozzles 11 and 12; 11's last sale is #1
    plain = station(nozzles=2)
    view = FixedView(
        replace(plain, nozzles=[replace(n, nozzle=n.nozzle + 10) for n in plain.nozzles])
    )
    clock = Clock(T0 + 7_200_000)
    steps = [
        ({"state": "idle"}, []),
        ({"state": "lifted"}, ["lift"]),
        ({"state": "fuelling", "current_volume": 12.5}, []),
        ({"state": "fuelling", "current_volume": 25.0}, []),
        (
            {"state": "idle", "current_volume": 25.0, "last": sale(2, volume=25.0)},
            ["hang", "txn#880002"],
        ),
        ({"state": "idle", "last": sale(3, volume=5.0)}, ["lift", "hang", "txn#880003"]),
    ]
    seen = []
    async with serve(view, COLLECTOR, 2, clock=clock, numbers=[11, 12]) as (_server, adapter):
        for changes, expected in steps:
            view.nozzle(11, **changes)
            clock.now += 1000
            got = [r for r in await poll(adapter) if not isinstance(r, TotalizerRecord)]
            assert kinds(got) == expected, changes
            seen.append(got)
    hang, txn = seen[4]
    assert hang.nozzle == txn.nozzle == 11
    assert hang.volume == txn.volume == 25.0
    assert hang.ts == txn.end
    assert txn.order_id == sale(2).order_id
    lift, hang, txn = seen[5]
    assert (lift.ts, hang.ts, txn.volume) == (sale(3).start, sale(3).end, 5.0)
