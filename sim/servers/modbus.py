"""A simulated station served over Modbus TCP or RTU, laid out by a device profile.

The server answers as the profiled device would: the register map, word order, scaling and
units come from the device profile (shared data, the same file the gateway adapter reads
with), and the values are put into registers by the simulator's own encoder
(``fuelwatch.sim.protocols.modbus``, written from the profile schema's documentation, not the
gateway's codec). Registers are refreshed from the ``StationView`` on every request, so a
reply is always the station as it is now; writes are refused (the maps are read-only).

Addresses between the profile's first and last register read as 0 (reserved words a
device serves anyway); outside that span a read gets exception 2, illegal data address.

``faults`` changes behaviour while the server runs, for tests: ``silent`` (requests get no
reply), ``exception`` (every read answers that exception code), ``delay`` (slow replies);
``drop_connections()`` closes the TCP connections, ``stop()`` / ``start()`` take the server
away and bring it back on the same address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from fuelwatch.core.devices.modbus import DEFAULT_PROFILE_DIR as FIRMWARE_CONFIGS
from fuelwatch.core.devices.profile import Profile, Table, load_profile
from fuelwatch.sim.live import SimContext
from fuelwatch.sim.protocols.modbus import Layout, Value
from fuelwatch.sim.state import StationSnapshot, StationView

__all__ = ["TLS_ALARM_CODES", "ModbusFaults", "ModbusSimServer", "station_values"]

#: TLS-350 tank alarm type (``AlarmSnapshot.alarm_type``) -> the alarm code profiles use
#: (the TLS-350 adapter's codes, so both ways of reading a console raise the same alarms).
TLS_ALARM_CODES = {
    1: "setup_data_warning",
    2: "tank_leak",
    3: "high_water",
    4: "overfill",
    5: "low_product",
    6: "sudden_loss",
    7: "high_product",
    8: "invalid_fuel_level",
    9: "probe_out",
    10: "high_water_warning",
    11: "delivery_needed",
    12: "max_product",
    13: "gross_leak_test_fail",
    14: "periodic_leak_test_fail",
    15: "annual_leak_test_fail",
}

_HOLDING_FUNCTIONS = frozenset({3, 6, 16, 22, 23})


@dataclass(slots=True)
class ModbusFaults:
    """Misbehaviour on demand; set the attributes while the server runs."""

    silent: bool = False  # receive requests, never answer
    exception: int | None = None  # answer every read with this Modbus exception code
    delay: float = 0.0  # seconds to wait before answering


def _inverse(table: Mapping[int, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for code, name in table.items():
        out.setdefault(name, code)
    return out


#: what the simulator's tank status word (TLS-350 ``i201`` layout, ``TankSnapshot.status_bits``)
#: says, by meaning: bit 0 delivery, bit 1 leak test, bit 2 invalid height (probe error)
_SNAPSHOT_MEANINGS = {"delivery": 0, "leak_test": 1, "probe_error": 2}


def vendor_status(snapshot_bits: int, profile: Profile) -> int:
    """The status register as this vendor lays it out, polarity included.

    A meaning the simulator does not model (product motion) is served as inactive: for an
    active-low bit such as Pneumercator's DB7 that is a 1 ("the product is still").
    """
    word = 0
    for b in profile.status_bits:
        bit = _SNAPSHOT_MEANINGS.get(b.meaning)
        active = bit is not None and bool(snapshot_bits >> bit & 1)
        if active == (b.active == "high"):
            word |= 1 << b.bit
    return word


def station_values(
    snapshot: StationSnapshot, profile: Profile, numbers: list[int]
) -> dict[int, dict[str, Value]]:
    """The values a device with this profile shows, per instance (1 = ``numbers[0]``)."""
    products = _inverse(profile.products)
    out: dict[int, dict[str, Value]] = {}
    if profile.kind == "tank_gauge":
        tanks = {t.tank: t for t in snapshot.tanks}
        for instance, number in enumerate(numbers, start=1):
            tank = tanks.get(number)
            if tank is None:
                continue
            values: dict[str, Value] = {
                "product": products.get(tank.product, 0),
                "status": vendor_status(tank.status_bits, profile),
                "volume": tank.volume,
                "tc_volume": tank.tc_volume,
                "ullage": tank.ullage,
                "height": tank.height,
                "water": tank.water,
                "temperature": tank.temperature,
                "water_volume": tank.water_volume,
            }
            for alarm in snapshot.alarms:
                code = TLS_ALARM_CODES.get(alarm.alarm_type)
                if alarm.tank == number and code is not None:
                    values[f"alarm:{code}"] = 1
            out[instance] = values
        return out
    states = _inverse(profile.states)
    nozzles = {n.nozzle: n for n in snapshot.nozzles}
    for instance, number in enumerate(numbers, start=1):
        nozzle = nozzles.get(number)
        if nozzle is None:
            continue
        values = {
            "state": states.get(nozzle.state, 0),
            "product": products.get(nozzle.product, 0),
            "unit_price": nozzle.unit_price,
            "current_volume": nozzle.current_volume,
            "volume_total": nozzle.volume_total,
            "amount_total": nozzle.amount_total,
        }
        last = nozzle.last
        if last is not None:
            order = int(last.order_id) if last.order_id.isdigit() else last.seq
            values |= {
                "last.seq": last.seq,
                "last.order_id": order,
                "last.unit_price": last.unit_price,
                "last.volume": last.volume,
                "last.amount": last.amount,
                "last.paid": last.paid,
                "last.start": last.start,
                "last.end": last.end,
                "last.totalizer_before": last.totalizer_before,
                "last.totalizer_after": last.totalizer_after,
            }
        out[instance] = values
    return out


class ModbusSimServer:
    """Serve ``view`` as one Modbus device (unit ``unit_id``) over TCP or a serial port.

    TCP: ``tcp=(host, port)``, port 0 picks a free one (see ``port`` once started).
    RTU: ``serial="/dev/ttyS1"`` (or one end of a pty pair) with the line settings.
    """

    def __init__(
        self,
        view: StationView,
        profile: Profile | Path | str,
        *,
        count: int,
        numbers: list[int] | None = None,
        unit_id: int = 1,
        tcp: tuple[str, int] | None = None,
        serial: str | None = None,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: int = 1,
        logger: logging.Logger | None = None,
    ) -> None:
        if (tcp is None) == (serial is None):
            raise ValueError("give exactly one of tcp=(host, port) or serial=path")
        self.view = view
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        self.layout = Layout(self.profile, count)
        self.numbers = numbers or list(range(1, count + 1))
        if len(self.numbers) != count:
            raise ValueError(f"numbers needs {count} entries")
        self.unit_id = unit_id
        self.tcp = tcp
        self.serial = serial
        self.line = (baudrate, bytesize, parity, stopbits)
        self.log = logger or logging.getLogger(__name__)
        self.faults = ModbusFaults()
        self.requests = 0  # requests answered with data
        self._server: ModbusTcpServer | ModbusSerialServer | None = None

    @property
    def port(self) -> int:
        """The TCP port being served (after ``start()``)."""
        if self.tcp is None:
            raise RuntimeError("not a TCP server")
        return self.tcp[1]

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._server is not None:
            return
        device = SimDevice(id=self.unit_id, simdata=self._layout(), action=self._refresh)
        server: ModbusTcpServer | ModbusSerialServer
        if self.tcp is not None:
            server = ModbusTcpServer([device], address=self.tcp, trace_packet=self._trace)
        else:
            assert self.serial is not None
            baudrate, bytesize, parity, stopbits = self.line
            server = ModbusSerialServer(
                [device],
                port=self.serial,
                baudrate=baudrate,
                bytesize=bytesize,
                parity=parity,
                stopbits=stopbits,
                trace_packet=self._trace,
            )
        await server.serve_forever(background=True)
        if self.tcp is not None and self.tcp[1] == 0:
            sockets = getattr(server.transport, "sockets", None) or []
            self.tcp = (self.tcp[0], sockets[0].getsockname()[1])
        self._server = server
        self.log.info(
            "modbus sim: %s %s, unit %d, on %s",
            self.profile.device.vendor,
            self.profile.device.model,
            self.unit_id,
            f"tcp {self.tcp[0]}:{self.tcp[1]}" if self.tcp else f"serial {self.serial}",
        )

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it untyped
            await asyncio.sleep(0)  # let the transports finish closing

    def drop_connections(self) -> int:
        """Close every client connection (TCP); returns how many were open."""
        if self._server is None:
            return 0
        handlers = list(self._server.active_connections.values())
        for handler in handlers:
            handler.close()
        return len(handlers)

    def _layout(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        """Coils, discrete inputs, holding and input registers: one read-only span per table."""
        spans: dict[Table, list[SimData]] = {}
        for table in ("holding", "input"):
            span = self.layout.span(table)
            if span is None:
                spans[table] = [SimData(0, datatype=DataType.INVALID)]
                continue
            first, end = span
            spans[table] = [
                SimData(first, count=end - first, datatype=DataType.REGISTERS, readonly=True)
            ]
        no_bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS, readonly=True)]
        return (no_bits, list(no_bits), spans["holding"], spans["input"])

    async def _refresh(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this before answering: put the station as it is now in the block."""
        del set_values  # writes never get here: the spans are read-only
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        if self.faults.exception is not None:
            return ExcCodes(self.faults.exception)
        if self.faults.silent:  # the reply is dropped on its way out (``_trace``)
            return None
        table: Table = "holding" if function_code in _HOLDING_FUNCTIONS else "input"
        try:
            snapshot = self.view.snapshot()
            values = station_values(snapshot, self.profile, self.numbers)
            words = self.layout.words(values, table, address, count)
        except (ValueError, KeyError) as exc:  # EncodeError is a ValueError
            self.log.error("modbus sim: cannot encode the station: %s", exc)
            return ExcCodes.DEVICE_FAILURE
        for pdu in range(address, address + count):
            registers[pdu - start_address] = words.get(pdu, 0)
        self.requests += 1
        return None

    def _trace(self, sending: bool, data: bytes) -> bytes:
        return b"" if sending and self.faults.silent else data


@contextlib.asynccontextmanager
async def serve(ctx: SimContext, options: Mapping[str, str]) -> AsyncIterator[ModbusSimServer]:
    """``fuelwatch sim run --serve modbus:profile=taxcontrol_dispenser_collector.yaml,port=5020``.

    Options: ``profile`` (a file in firmware_configs/, default the tax-control dispenser
    collector), ``host`` (127.0.0.1), ``port`` (5020), or ``serial`` (a tty path) instead of
    TCP, ``unit`` (1). The device covers every nozzle (dispenser profiles) or every tank
    (tank-gauge profiles) of the scenario, or ``count`` of them from number ``first``. During a
    simulated outage it stops answering.
    """
    name = options.get("profile", "taxcontrol_dispenser_collector.yaml")
    path = Path(name) if Path(name).is_absolute() else FIRMWARE_CONFIGS / name
    profile = load_profile(path)
    snapshot = ctx.live.snapshot()
    numbers = (
        sorted(n.nozzle for n in snapshot.nozzles)
        if profile.device.kind == "dispenser"
        else sorted(t.tank for t in snapshot.tanks)
    )
    if "first" in options or "count" in options:  # one device of several (e.g. 6 nozzles each)
        first = int(options.get("first", str(numbers[0])))
        numbers = [n for n in numbers if n >= first][: int(options.get("count", "999"))]
    server = ModbusSimServer(
        ctx.live,
        profile,
        count=len(numbers),
        numbers=numbers,
        unit_id=int(options.get("unit", "1")),
        tcp=None
        if "serial" in options
        else (options.get("host", "127.0.0.1"), int(options.get("port", "5020"))),
        serial=options.get("serial"),
        logger=ctx.logger,
    )

    async def follow_outages() -> None:
        while True:
            server.faults.silent = not ctx.live.snapshot().reachable
            await asyncio.sleep(0.2)

    async with server:
        watcher = asyncio.create_task(follow_outages(), name="modbus-sim-outages")
        try:
            yield server
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
