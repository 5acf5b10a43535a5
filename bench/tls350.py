"""How fast the TLS-350 adapter reads the simulated console over TCP on this machine.

    python bench/tls350.py [--seconds 3] [--tanks 4]

Polls back to back (no poll interval), once with i201 only and once with i201 + i202 + i205 on
every poll, and prints polls/s, requests/s and records/s. Both ends run in this one process
and event loop, so the numbers are for the codec + asyncio TCP path, not for a real console
(a TLS-350 at 9600 baud sends ~960 bytes/s: a 4-tank i201 reply takes ~0.3 s on the wire).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import record  # noqa: E402
from fuelwatch.core.devices.tls350 import Tls350Config  # noqa: E402
from fuelwatch.gateway.adapters.base import AdapterContext  # noqa: E402
from fuelwatch.gateway.adapters.tls350.adapter import Tls350Adapter  # noqa: E402
from fuelwatch.sim.servers.tls350 import Tls350Console, Tls350TcpServer  # noqa: E402
from fuelwatch.sim.state import AlarmSnapshot, DeliverySnapshot, StationSnapshot, TankSnapshot  # noqa: E402

T0 = 1_763_900_000_000
HOUR = 3_600_000


@dataclass
class View:
    snap: StationSnapshot

    def snapshot(self) -> StationSnapshot:
        return self.snap


def delivery(tank: int, hours_ago: int) -> DeliverySnapshot:
    end = T0 - hours_ago * HOUR
    return DeliverySnapshot(
        tank=tank,
        product_code=str(tank % 10),
        start=end - HOUR,
        end=end,
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


def station(tanks: int) -> StationSnapshot:
    numbers = range(1, tanks + 1)
    return StationSnapshot(
        now=T0,
        tanks=[
            TankSnapshot(n, "92", str(n % 10), 12345.6, 12300.1, 17654.4, 1234.5, 3.2, 18.25, 1.5)
            for n in numbers
        ],
        deliveries={n: [delivery(n, k) for k in range(10, 0, -1)] for n in numbers},
        alarms=[AlarmSnapshot(1, 4, T0)],
    )


async def measure(port: int, seconds: float, *, every_poll: bool) -> tuple[int, int, int, float]:
    interval = 0.0 if every_poll else 1e9
    config = Tls350Config(
        id="bench",
        type="tls350",
        transport={"kind": "tcp", "host": "127.0.0.1", "port": port},  # type: ignore[arg-type]
        delivery_interval=interval,
        alarm_interval=interval,
    )
    adapter = Tls350Adapter(config, AdapterContext("bench", "bench"))
    polls = records = 0
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            records += len(await adapter.poll())
            adapter.commit()  # as after a spool commit: each delivery counts once
            polls += 1
    finally:
        await adapter.close()
    return polls, adapter.requests, records, time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--tanks", type=int, default=4)
    parser.add_argument("--record", action="store_true", help="write docs/performance.md")
    args = parser.parse_args()
    console = Tls350Console(View(station(args.tanks)))
    rows = []
    async with Tls350TcpServer(console) as server:
        for label, every in (("i201 only", False), ("i201+i202+i205", True)):
            polls, requests, records, took = await measure(
                server.port, args.seconds, every_poll=every
            )
            print(
                f"{label:15} {args.tanks} tanks: {polls / took:8.0f} polls/s "
                f"{requests / took:8.0f} requests/s {records / took:8.0f} records/s "
                f"({polls} polls in {took:.1f}s)"
            )
            rows.append(
                f"| {label} | {args.tanks} | {polls / took:.0f} | {requests / took:.0f} | "
                f"{records / took:.0f} |"
            )
    if args.record:
        record(
            "bench/tls350.py",
            f"""
## TLS-350 adapter read rate (bench/tls350.py)

Measured {time.strftime("%Y-%m-%d")}: the gateway's TLS-350 adapter against the simulator's
console over TCP on loopback, as fast as it can, {args.seconds:.0f} s per mode (i201 inventory
only; or with i202 delivery and i205 alarm reports every poll). A real console on a 9600-baud
serial line answers a few requests per second: the adapter is never the limit.

| mode | tanks | polls/s | requests/s | records/s |
|---|---|---|---|---|
"""
            + "\n".join(rows),
        )


if __name__ == "__main__":
    asyncio.run(main())
