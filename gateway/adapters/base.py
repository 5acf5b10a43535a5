"""What every device adapter is and what it may rely on.

An adapter is one device (a tank gauge, a dispenser bus, the POS push endpoint): a pure codec
(bytes <-> records, in its own module, tested on frame tables) plus the I/O that drives it. It
hands records to a ``RecordSink`` and awaits the spool commit before it acknowledges anything
to the device, so a record the device has let go of is always on disk.

Device faults (timeouts, garbage, bad checksums, the device unplugged) never leave an adapter:
``PollingAdapter`` turns them into a logged error and a ``device_fault`` alarm record, waits by
the device's ``retry`` policy (``fuelwatch.core.retry``), and raises a cleared alarm once the
device answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fuelwatch.core.devices.base import DeviceConfigBase
from fuelwatch.core.records import AlarmRecord, BaseRecord
from fuelwatch.core.retry import Backoff

__all__ = [
    "Adapter",
    "AdapterContext",
    "DeviceError",
    "PollingAdapter",
    "RecordSink",
    "wall_clock_ms",
]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class DeviceError(Exception):
    """The device did not answer, or answered something we cannot use."""


class RecordSink(Protocol):
    async def put(self, device: str, records: Sequence[BaseRecord]) -> None:
        """Return once the records are committed to the on-disk spool."""


@dataclass(slots=True)
class AdapterContext:
    district: str
    station: str
    clock: Callable[[], int] = wall_clock_ms
    logger: logging.Logger = field(
        default_factory=lambda: logging.getLogger("fuelwatch.gateway.adapters")
    )


class Adapter(ABC):
    """One device. ``run`` returns only when cancelled."""

    def __init__(self, config: DeviceConfigBase, ctx: AdapterContext) -> None:
        self.config = config
        self.ctx = ctx
        self.device_id = config.id
        self.log = ctx.logger.getChild(config.id)

    @abstractmethod
    async def run(self, sink: RecordSink) -> None: ...

    def state(self) -> str:
        """One word for the gateway status: ok, fault, starting."""
        return "ok"


class PollingAdapter(Adapter):
    """An adapter that asks the device every ``poll_interval`` seconds."""

    def __init__(self, config: DeviceConfigBase, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self._fault: str | None = None
        self._backoff = Backoff(config.retry)
        self._started = False
        self.polls = 0
        self.faults = 0

    @abstractmethod
    async def poll(self) -> list[BaseRecord]:
        """Read the device once. Raise ``DeviceError`` (or OSError/TimeoutError) on failure."""

    async def close(self) -> None:
        """Drop the connection so the next poll reconnects."""

    def commit(self) -> None:
        """The last poll's records are on disk: what they report now counts as reported.

        Adapters that remember what they reported (deliveries, alarm states, transaction
        counters) update that memory here, never in ``poll``, so a failed spool write makes
        the next poll report the same changes again.
        """

    def state(self) -> str:
        if not self._started:
            return "starting"
        return "fault" if self._fault else "ok"

    async def run(self, sink: RecordSink) -> None:
        loop = asyncio.get_running_loop()
        next_poll = loop.time()
        while True:
            try:
                records = await asyncio.wait_for(self.poll(), self.config.timeout * 4)
            except (DeviceError, OSError, TimeoutError, EOFError) as exc:
                self._started = True
                self.faults += 1
                await self.close()
                message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if self._fault is None:
                    self.log.error("device %s fault: %s", self.device_id, message)
                    await sink.put(self.device_id, [self._alarm(message, active=True)])
                else:
                    self.log.debug("device %s still failing: %s", self.device_id, message)
                self._fault = message
                await self._backoff.wait()
                next_poll = loop.time()
                continue
            self._started = True
            self.polls += 1
            if self._fault is not None:
                self.log.warning(
                    "device %s recovered after %d attempt(s)",
                    self.device_id,
                    self._backoff.failures,
                )
                records = [self._alarm(f"recovered from: {self._fault}", active=False), *records]
                self._fault = None
            self._backoff.reset()
            if records:
                await sink.put(self.device_id, records)
            self.commit()
            # Fixed rate, not fixed gap: a poll every poll_interval, whatever the poll took.
            # When a poll overruns, skip the missed slots instead of bursting to catch up.
            next_poll += self.config.poll_interval
            now = loop.time()
            next_poll = max(next_poll, now)
            await asyncio.sleep(next_poll - now)

    def _alarm(self, message: str, *, active: bool) -> AlarmRecord:
        now = self.ctx.clock()
        return AlarmRecord(
            ts=now,
            gts=now,
            code="device_fault",
            active=active,
            severity="warning",
            message=message[:1024],
        )
