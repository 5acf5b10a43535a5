"""A fixed station (plain snapshots), a sink that records, and adapters that read a console."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fuelwatch.core.devices.tls350 import Tls350Config
from fuelwatch.core.records import AlarmRecord, BaseRecord, DeliveryRecord, InventoryRecord
from fuelwatch.gateway.adapters.base import AdapterContext
from fuelwatch.gateway.adapters.tls350.adapter import Tls350Adapter
from fuelwatch.sim.state import AlarmSnapshot, DeliverySnapshot, StationSnapshot, TankSnapshot

# 2025-11-23 12:13:20 UTC = 20:13:20 in Shanghai: the console prints 2511232013.
T0 = 1_763_900_000_000
T0_MINUTE = 1_763_899_980_000  # 12:13:00 UTC, what the console's minute clock says
HOUR = 3_600_000


def tank(n: int, **kw: Any) -> TankSnapshot:
    base: dict[str, Any] = {
        "tank": n,
        "product": "92",
        "product_code": str(n),
        "volume": 12345.6,
        "tc_volume": 12300.1,
        "ullage": 17654.4,
        "height": 1234.5,
        "water": 3.2,
        "temperature": 18.25,
        "water_volume": 1.5,
        "status_bits": 0,
    }
    return TankSnapshot(**(base | kw))


def delivery(n: int, start: int, end: int, **kw: Any) -> DeliverySnapshot:
    base: dict[str, Any] = {
        "tank": n,
        "product_code": str(n),
        "start": start,
        "end": end,
        "start_volume": 4000.5,
        "start_tc_volume": 3990.25,
        "start_water": 3.0,
        "start_temperature": 17.5,
        "end_volume": 19000.75,
        "end_tc_volume": 18950.5,
        "end_water": 3.5,
        "end_temperature": 16.75,
        "start_height": 512.25,
        "end_height": 1801.5,
    }
    return DeliverySnapshot(**(base | kw))


def station() -> StationSnapshot:
    """Two tanks; one delivery into tank 1 an hour ago; an overfill alarm on tank 2."""
    return StationSnapshot(
        now=T0,
        tanks=[
            tank(1),
            tank(
                2,
                product="95",
                volume=5000.0,
                tc_volume=4990.0,
                ullage=25000.0,
                height=600.0,
                water=0.0,
                temperature=-2.5,
                water_volume=0.0,
                status_bits=0x0001,
            ),
        ],
        deliveries={1: [delivery(1, T0 - 2 * HOUR, T0 - HOUR)]},
        alarms=[AlarmSnapshot(tank=2, alarm_type=4, since=T0 - 60_000)],
    )


# What an adapter reading station() at gateway time GTS must produce.
GTS = T0 + 5_000

INVENTORY = [
    InventoryRecord(
        ts=T0_MINUTE,
        gts=GTS,
        tank=1,
        product="1",
        volume=12345.6,
        tc_volume=12300.1,
        ullage=17654.4,
        height=1234.5,
        water=3.2,
        temperature=18.25,
        water_volume=1.5,
        status=0,
    ),
    InventoryRecord(
        ts=T0_MINUTE,
        gts=GTS,
        tank=2,
        product="2",
        volume=5000.0,
        tc_volume=4990.0,
        ullage=25000.0,
        height=600.0,
        water=0.0,
        temperature=-2.5,
        water_volume=0.0,
        status=1,
    ),
]
DELIVERY = DeliveryRecord(
    ts=T0_MINUTE - HOUR,
    gts=GTS,
    tank=1,
    product="1",
    start=T0_MINUTE - 2 * HOUR,
    end=T0_MINUTE - HOUR,
    start_volume=4000.5,
    start_tc_volume=3990.25,
    start_water=3.0,
    start_temperature=17.5,
    end_volume=19000.75,
    end_tc_volume=18950.5,
    end_water=3.5,
    end_temperature=16.75,
    start_height=512.25,
    end_height=1801.5,
)
OVERFILL = AlarmRecord(
    ts=T0_MINUTE,
    gts=GTS,
    code="overfill",
    active=True,
    severity="critical",
    message="Tank Overfill Alarm, tank 2",
    tank=2,
)


@dataclass
class FixedView:
    """A StationView that returns whatever snapshot the test put in it."""

    snap: StationSnapshot = field(default_factory=station)

    def snapshot(self) -> StationSnapshot:
        return self.snap

    def update(self, **changes: Any) -> None:
        values = {name: getattr(self.snap, name) for name in self.snap.__dataclass_fields__}
        self.snap = StationSnapshot(**(values | changes))


class ListSink:
    """A RecordSink that keeps what it was given and lets a test wait for it."""

    def __init__(self) -> None:
        self.records: list[BaseRecord] = []
        self.puts = 0
        self._changed = asyncio.Event()

    async def put(self, device: str, records: Sequence[BaseRecord]) -> None:
        self.puts += 1
        self.records.extend(records)
        self._changed.set()

    def of(self, cls: type[BaseRecord]) -> list[Any]:
        return [r for r in self.records if isinstance(r, cls)]

    def faults(self) -> list[AlarmRecord]:
        return [r for r in self.of(AlarmRecord) if r.code == "device_fault"]

    async def wait_for(
        self, predicate: Callable[[ListSink], bool], *, timeout: float = 10.0, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what or predicate}: {self.records}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


def make_config(transport: dict[str, Any], **kw: Any) -> Tls350Config:
    settings: dict[str, Any] = {
        "id": "atg1",
        "type": "tls350",
        "transport": transport,
        "delivery_interval": 0,
        "alarm_interval": 0,
        "timeout": 1.0,
    }
    return Tls350Config.model_validate(settings | kw)


def make_adapter(config: Tls350Config, clock_ms: int = GTS) -> Tls350Adapter:
    return Tls350Adapter(config, AdapterContext("d1", "ST01", clock=lambda: clock_ms))


@contextlib.asynccontextmanager
async def running(adapter: Tls350Adapter, sink: ListSink) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(adapter.run(sink), name="adapter-under-test")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await adapter.close()
