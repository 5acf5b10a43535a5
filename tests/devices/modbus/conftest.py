"""Fixtures for Modbus device tests: a fixed station view, pty pairs, adapters on a sink."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from fuelwatch.core.devices.modbus import ModbusConfig
from fuelwatch.core.records import (
    AlarmRecord,
    BaseRecord,
    NozzleEventRecord,
    TotalizerRecord,
    TransactionRecord,
)
from fuelwatch.gateway.adapters.base import AdapterContext
from fuelwatch.gateway.adapters.modbus import ModbusAdapter
from fuelwatch.sim.state import (
    AlarmSnapshot,
    NozzleSnapshot,
    StationSnapshot,
    TankSnapshot,
    TransactionSnapshot,
)

PROFILES = Path(__file__).resolve().parents[3] / "firmware_configs"
T0 = 1_763_900_000_000  # whole seconds: the dispenser profile stores epoch seconds


class FixedView:
    """A StationView holding whatever snapshot the test put there."""

    def __init__(self, snapshot: StationSnapshot) -> None:
        self.current = snapshot

    def snapshot(self) -> StationSnapshot:
        return self.current

    def nozzle(self, number: int, **changes: Any) -> None:
        nozzles = [replace(n, **changes) if n.nozzle == number else n for n in self.current.nozzles]
        self.current = replace(self.current, nozzles=nozzles)


def tank(number: int, product: str, **values: Any) -> TankSnapshot:
    base: dict[str, Any] = {
        "volume": 10_000.0 + number,
        "tc_volume": 9_950.0 + number,
        "ullage": 20_000.0 - number,
        "height": 1_500.0 + number,
        "water": 10.0 + number,
        "temperature": 18.5 - number / 10,
        "water_volume": 4.0 + number,
        "status_bits": number,
    }
    base.update(values)
    return TankSnapshot(tank=number, product=product, product_code=str(number), **base)


def sale(
    seq: int, *, volume: float = 30.25, price: float = 7.52, total: float = 100_000.0
) -> TransactionSnapshot:
    amount = round(volume * price, 2)
    end = T0 + seq * 600_000
    return TransactionSnapshot(
        seq=seq,
        order_id=str(880_000 + seq),
        unit_price=price,
        volume=volume,
        amount=amount,
        paid=round(amount - 0.48, 2),
        start=end - 60_000,
        end=end,
        totalizer_before=total - volume,
        totalizer_after=total,
    )


def nozzle(
    number: int, product: str, last: TransactionSnapshot | None = None, **values: Any
) -> NozzleSnapshot:
    base: dict[str, Any] = {
        "unit_price": 7.52,
        "state": "idle",
        "current_volume": 0.0,
        "volume_total": 100_000.0 + number,
        "amount_total": 752_000.5 + number,
    }
    base.update(values)
    return NozzleSnapshot(dispenser=1, nozzle=number, product=product, last=last, **base)


PRODUCTS = ("92", "95", "98", "0")


def station(
    tanks: int = 4, nozzles: int = 4, alarms: Sequence[AlarmSnapshot] = ()
) -> StationSnapshot:
    return StationSnapshot(
        now=T0,
        tanks=[tank(n, PRODUCTS[(n - 1) % 4]) for n in range(1, tanks + 1)],
        nozzles=[nozzle(n, PRODUCTS[(n - 1) % 4], last=sale(n)) for n in range(1, nozzles + 1)],
        alarms=list(alarms),
    )


@dataclass
class ListSink:
    """A RecordSink that keeps everything it is given."""

    records: list[BaseRecord] = field(default_factory=list)

    async def put(self, device: str, records: Sequence[BaseRecord]) -> None:
        self.records.extend(records)

    def alarms(self, code: str) -> list[AlarmRecord]:
        return [r for r in self.records if isinstance(r, AlarmRecord) and r.code == code]


def kinds(records: Sequence[BaseRecord], *, totalizers: bool = True) -> list[str]:
    """Records as short words: lift, hang, txn#<order>, totalizer, alarm:<code>:on|off, ..."""
    out = []
    for r in records:
        if isinstance(r, NozzleEventRecord):
            out.append(r.event)
        elif isinstance(r, TransactionRecord):
            out.append(f"txn#{r.order_id}")
        elif isinstance(r, TotalizerRecord):
            if totalizers:
                out.append("totalizer")
        elif isinstance(r, AlarmRecord):
            out.append(f"alarm:{r.code}:{'on' if r.active else 'off'}")
        else:
            out.append(type(r).__name__)
    return out


class Clock:
    """A settable clock for AdapterContext (ms)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make_adapter(
    profile: str, transport: dict[str, Any], clock: Callable[[], int] | None = None, **settings: Any
) -> ModbusAdapter:
    config = ModbusConfig.model_validate(
        {"id": "dev1", "type": "modbus", "profile": profile, "transport": transport, **settings}
    )
    ctx = AdapterContext(district="d1", station="s1")
    if clock is not None:
        ctx.clock = clock
    return ModbusAdapter(config, ctx)


async def poll(adapter: ModbusAdapter) -> list[BaseRecord]:
    """One poll, committed the way ``run()`` commits once the sink has stored the records."""
    records = await adapter.poll()
    adapter.commit()
    return records


async def eventually(
    check: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals: a null-modem cable for RTU tests."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.skip("socat is not installed (apt-get install socat): RTU tests need a pty pair")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    log = (tmp_path / "socat.log").open("w")
    proc = subprocess.Popen(
        [socat, "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 5
        while not (a.exists() and b.exists()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"socat did not make a pty pair: {(tmp_path / 'socat.log').read_text()}"
                )
            time.sleep(0.01)
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(5)
        log.close()


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves tasks running: servers and adapters must be shut down."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0.01)
    leaked = [
        t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()
    ]
    for task in leaked:
        task.cancel()
    assert not leaked, f"tasks left running: {[t.get_name() for t in leaked]}"
