"""A station running in scaled real time, for protocol servers and the POS client.

``LiveStation`` advances the model every ``tick`` wall seconds to where the ``Pacer`` says
simulated time is, and fans the station's events out to subscribers' queues. It is the
``StationView`` the TLS-350 and Modbus servers read (``snapshot``), and what a server
starter receives inside a ``SimContext``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from fuelwatch.sim.clock import Pacer
from fuelwatch.sim.events import StationEvent
from fuelwatch.sim.scenario import Scenario
from fuelwatch.sim.state import StationSnapshot
from fuelwatch.sim.station import Station

__all__ = ["LiveStation", "SimContext"]


class LiveStation:
    def __init__(self, station: Station, *, speed: float, tick: float = 0.05) -> None:
        self.station = station
        self.speed = speed
        self.tick = tick
        self._subscribers: list[tuple[tuple[type, ...], asyncio.Queue[StationEvent]]] = []
        self._reachable = asyncio.Event()
        self._update_reachable()

    def snapshot(self) -> StationSnapshot:
        return self.station.snapshot()

    def subscribe(self, *types: type) -> asyncio.Queue[StationEvent]:
        """A queue that receives every later event of the given types (all if none given)."""
        queue: asyncio.Queue[StationEvent] = asyncio.Queue()
        self._subscribers.append((types, queue))
        return queue

    async def wait_reachable(self) -> None:
        """Return once the station's devices can be reached (no simulated outage)."""
        await self._reachable.wait()

    def _update_reachable(self) -> None:
        if self.station.faults.outage(self.station.now):
            self._reachable.clear()
        else:
            self._reachable.set()

    async def run(
        self, until_ms: int, on_events: Callable[[list[StationEvent]], None] | None = None
    ) -> None:
        """Advance in real time until simulated ``until_ms``."""
        station = self.station
        pacer = Pacer(station.now, self.speed)
        while True:
            target = min(pacer.target(), until_ms)
            station.advance_to(target)
            if target >= station.scenario.end_ms:
                station.flush_pos()
            events = station.drain()
            if on_events is not None:
                on_events(events)
            for event in events:
                for types, queue in self._subscribers:
                    if not types or isinstance(event, types):
                        queue.put_nowait(event)
            self._update_reachable()
            if target >= until_ms:
                return
            await asyncio.sleep(self.tick)


@dataclass(frozen=True, slots=True)
class SimContext:
    """What a server starter gets: the live station (a ``StationView``) and the scenario."""

    live: LiveStation
    scenario: Scenario
    logger: logging.Logger
