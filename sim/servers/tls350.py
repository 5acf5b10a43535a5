"""A simulated Veeder-Root TLS-350 console, over TCP and over a serial line.

``Tls350Console`` is the device: it answers ``i201`` / ``i202`` / ``i205`` (computer format)
from a ``StationView``, in the units and time zone it is set up with, with the simulator's own
encoder (``fuelwatch.sim.protocols.tls350``, written from the manual), and answers anything
else with the manual's error reply. ``Tls350TcpServer`` and ``Tls350SerialServer`` put a
console on a port; ``SocatPtyPair`` makes the null-modem cable (two linked ptys) a serial test
needs: the simulator opens one end, the gateway the other.

Tests break the link on purpose with ``Tls350Console.inject`` (one fault per reply, in order);
``spoil`` is what each fault does to a reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Mapping
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Self
from zoneinfo import ZoneInfo

from fuelwatch.core.devices.tls350 import UnitSystem
from fuelwatch.core.retry import Backoff, RetrySettings
from fuelwatch.sim.live import SimContext
from fuelwatch.sim.protocols import tls350 as protocol
from fuelwatch.sim.protocols.tls350 import ERROR_REPLY, SOH
from fuelwatch.sim.state import DeliverySnapshot, StationSnapshot, StationView

__all__ = [
    "Fault",
    "SocatPtyPair",
    "Tls350Console",
    "Tls350SerialServer",
    "Tls350TcpServer",
    "spoil",
]

LOGGER = logging.getLogger(__name__)
#: The simulated console reopens its port soon after the cable is plugged back in.
SERIAL_REOPEN = RetrySettings(base=0.05, factor=2.0, cap=0.2)
GARBAGE = b"\xfe\xff#NOISE@\x7f\x15\x03"  # no SOH, but an ETX so a reader stops on it


class Fault(StrEnum):
    DROP = "drop"  # read the command, answer nothing
    GARBAGE = "garbage"  # answer line noise
    BAD_CHECKSUM = "bad_checksum"  # the right reply with a wrong checksum digit
    CLOSE = "close"  # send half the reply, then hang up


def spoil(reply: bytes, fault: Fault) -> bytes:
    """What goes on the wire instead of ``reply`` (``DROP``: nothing; ``CLOSE``: then hang up)."""
    if fault is Fault.DROP:
        return b""
    if fault is Fault.GARBAGE:
        return GARBAGE
    if fault is Fault.BAD_CHECKSUM:  # the last checksum digit, one up (F wraps to 0)
        digit = int(reply[-2:-1], 16)
        return reply[:-2] + b"%X" % ((digit + 1) % 16) + reply[-1:]
    return reply[: len(reply) // 2]


class Tls350Console:
    """The console: commands in, replies out. Reads the station, never changes it."""

    def __init__(
        self,
        view: StationView,
        *,
        units: UnitSystem = UnitSystem.METRIC,
        timezone: str = "Asia/Shanghai",
        security_code: str | None = None,
        max_deliveries: int = 10,
        logger: logging.Logger | None = None,
    ) -> None:
        protocol.check_security_code(security_code)
        self.view = view
        self.units = units
        self.tz = ZoneInfo(timezone)
        self.security_code = security_code
        self.max_deliveries = max_deliveries  # the console keeps the last N per tank
        self.log = logger or LOGGER
        self.requests = 0
        self._faults: deque[Fault | None] = deque()  # per coming reply; None = answer well

    def inject(self, fault: Fault, times: int = 1, *, after: int = 0) -> None:
        """Spoil ``times`` replies with ``fault``, after ``after`` good ones (and any queued)."""
        self._faults.extend([None] * after + [fault] * times)

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    # -- answering ---------------------------------------------------------------------------

    def answer(self, data: bytes) -> bytes:
        """``<SOH>`` + one command -> the complete reply."""
        request = protocol.read_request(data[1:], self.security_code)
        if not data.startswith(SOH) or request is None:
            self.log.debug("TLS-350 sim: rejecting %r", data)
            return ERROR_REPLY
        if request.display:  # display format is not simulated
            return ERROR_REPLY
        snap = self.view.snapshot()
        by_tank = {t.tank: t for t in snap.tanks}
        if request.tank and request.tank not in by_tank:
            return ERROR_REPLY
        numbers = [request.tank] if request.tank else sorted(by_tank)
        tanks = [by_tank[n] for n in numbers]
        clock = protocol.console_clock(snap.now, self.tz)
        if request.function == protocol.INVENTORY:
            return protocol.inventory_reply(request.tank, clock, tanks, self.units)
        if request.function == protocol.DELIVERIES:
            kept = [(t, self._deliveries(snap, t.tank)) for t in tanks]
            return protocol.delivery_reply(request.tank, clock, kept, self.units, self.tz)
        if request.function == protocol.ALARMS:
            active: dict[int, set[int]] = {t.tank: set() for t in tanks}
            for alarm in snap.alarms:
                if alarm.tank in active:
                    active[alarm.tank].add(alarm.alarm_type)
            per_tank = [(n, sorted(types)) for n, types in active.items()]
            return protocol.alarm_reply(request.tank, clock, per_tank)
        return ERROR_REPLY

    def _deliveries(self, snap: StationSnapshot, tank: int) -> list[DeliverySnapshot]:
        if not self.max_deliveries:
            return []
        return snap.deliveries.get(tank, [])[-self.max_deliveries :]

    # -- one connection ----------------------------------------------------------------------

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer commands on one stream until it ends (or a ``CLOSE`` fault hangs up)."""
        length = protocol.request_length(self.security_code)
        while True:
            try:
                await reader.readuntil(SOH)  # skips CR/LF and noise between commands
                body = await reader.readexactly(length)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            self.requests += 1
            if not self.view.snapshot().reachable:
                continue  # a simulated outage: the console is cut off, nothing answers
            reply = self.answer(SOH + body)
            fault = self._faults.popleft() if self._faults else None
            if fault is not None:
                reply = spoil(reply, fault)
            if reply:  # a dropped reply leaves the line silent
                writer.write(reply)
                await writer.drain()
            if fault is Fault.CLOSE:
                return


# ---------------------------------------------------------------------------------------------
# transports


class _Service(ABC):
    """Something started and stopped, also usable as ``async with``."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class Tls350TcpServer(_Service):
    """A console listening on TCP (the TLS-350 Ethernet/serial bridge usually uses 10001)."""

    def __init__(self, console: Tls350Console, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.console = console
        self.host = host
        self.port = port  # 0: pick a free port on first start, then keep it across restarts
        self._server: asyncio.Server | None = None
        self._clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.console.log.info("TLS-350 sim listening on tcp %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and hang up on every client (like a console powered off)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Aborting the sockets ends each client's read with EOF; cancelling the tasks instead
        # makes asyncio 3.11's StreamReaderProtocol log a spurious CancelledError.
        for writer in self._clients.values():
            writer.transport.abort()
        await asyncio.gather(*self._clients, return_exceptions=True)
        await server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients[task] = writer
        try:
            await self.console.serve(reader, writer)
        except OSError as exc:
            self.console.log.debug("TLS-350 sim client gone: %s", exc)
        finally:
            del self._clients[task]
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class Tls350SerialServer(_Service):
    """A console on a serial device (a tty, or one end of a ``SocatPtyPair``).

    The port is reopened whenever it fails or disappears, so unplugging the cable (stopping
    socat) and plugging it back in works as it does with a real console.
    """

    def __init__(
        self,
        console: Tls350Console,
        device: str | Path,
        *,
        baudrate: int = 9600,
        retry: RetrySettings = SERIAL_REOPEN,
    ) -> None:
        self.console = console
        self.device = str(device)
        self.baudrate = baudrate
        self.retry = retry
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"tls350-sim-{self.device}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        import serial_asyncio_fast  # noqa: PLC0415 - pyserial only where a serial port is used

        backoff = Backoff(self.retry)
        while True:
            writer: asyncio.StreamWriter | None = None
            try:
                reader, writer = await serial_asyncio_fast.open_serial_connection(
                    url=self.device, baudrate=self.baudrate
                )
                backoff.reset()
                self.console.log.info("TLS-350 sim on serial %s", self.device)
                await self.console.serve(reader, writer)
            except OSError as exc:  # pyserial's SerialException is an OSError
                self.console.log.debug("TLS-350 sim serial %s: %s", self.device, exc)
            finally:
                if writer is not None:
                    writer.close()
            await backoff.wait()


class SocatPtyPair(_Service):
    """Two linked pseudo-terminals made by socat: a null-modem cable in software.

    ``sim_path`` and ``gateway_path`` are symlinks to the two ptys. ``stop`` unplugs the cable
    (both links go away), ``start`` plugs a new one in under the same names.
    """

    def __init__(self, directory: Path, *, name: str = "tls350") -> None:
        self.sim_path = directory / f"{name}-sim"
        self.gateway_path = directory / f"{name}-gateway"
        self._proc: asyncio.subprocess.Process | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("socat") is not None

    async def start(self, timeout: float = 10.0) -> None:
        if self._proc is not None:
            return
        socat = shutil.which("socat")
        if socat is None:
            raise FileNotFoundError("socat is not installed (Debian package: socat)")
        self._proc = await asyncio.create_subprocess_exec(
            socat,
            "-d",
            "-d",
            f"pty,raw,echo=0,link={self.sim_path}",
            f"pty,raw,echo=0,link={self.gateway_path}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await asyncio.wait_for(self._until_ready(self._proc), timeout)
        except BaseException:
            await self.stop()
            raise
        # socat goes quiet after start-up at this log level; nothing more to drain.

    @staticmethod
    async def _until_ready(proc: asyncio.subprocess.Process) -> None:
        """socat says "starting data transfer loop" once both ptys and links exist."""
        assert proc.stderr is not None
        said: list[bytes] = []
        while b"starting data transfer loop" not in (line := await proc.stderr.readline()):
            if not line:
                raise RuntimeError(f"socat exited: {b''.join(said).decode(errors='replace')}")
            said.append(line)

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


@contextlib.asynccontextmanager
async def serve(ctx: SimContext, options: Mapping[str, str]) -> AsyncIterator[_Service]:
    """``fuelwatch sim run --serve tls350:port=10001`` (or ``tls350:pty=DIR`` for a serial pair).

    Options: ``host`` (127.0.0.1), ``port`` (10001), ``pty`` (a folder: make a socat pty pair
    there and serve on one end; the gateway opens ``DIR/tls350-gateway``), ``units``
    (metric|us), ``timezone``, ``security_code``.
    """
    console = Tls350Console(
        ctx.live,
        units=UnitSystem(options.get("units", "metric")),
        timezone=options.get("timezone", "Asia/Shanghai"),
        security_code=options.get("security_code") or None,
        logger=ctx.logger,
    )
    if "pty" in options:
        async with SocatPtyPair(Path(options["pty"])) as pair:
            server = Tls350SerialServer(console, pair.sim_path)
            async with server:
                ctx.logger.info(
                    "TLS-350 sim on serial %s (gateway end %s)", pair.sim_path, pair.gateway_path
                )
                yield server
        return
    tcp = Tls350TcpServer(
        console, host=options.get("host", "127.0.0.1"), port=int(options.get("port", "10001"))
    )
    async with tcp:
        yield tcp
