"""The Modbus adapter's I/O: connect, read the planned ranges, hand them to the codec.

pymodbus's own reconnect loop is switched off (``reconnect_delay=0``): ``PollingAdapter`` owns
retry and back-off, and ``close()`` drops the client so the next poll starts from a fresh
connection. Every pymodbus failure becomes a ``ModbusDeviceError`` naming the device and the
registers that were being read.

What the interpreter remembers (transaction counters, raised alarms) counts as reported only
once the records that report it are in the spool: ``commit()`` runs after the sink's ``put``.
A poll whose records never got there is forgotten, and the next poll reports the same
changes again. With ``state_file`` the committed memory also survives a gateway restart, so
sales made while the gateway was down are reported (or counted as missed), not skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from fuelwatch.core.devices.modbus import ModbusConfig, TcpTransport
from fuelwatch.core.records import BaseRecord
from fuelwatch.gateway.adapters.base import AdapterContext, PollingAdapter
from fuelwatch.gateway.adapters.modbus.codec import CodecError, ReadRange, RegisterMap
from fuelwatch.gateway.adapters.modbus.errors import (
    EXCEPTION_NAMES,
    ModbusBadReply,
    ModbusExceptionReply,
    ModbusTimeout,
    ModbusUnreachable,
)
from fuelwatch.gateway.adapters.modbus.interpret import (
    DispenserTracker,
    Interpreter,
    ProductTable,
    State,
    TankGaugeReader,
)

__all__ = ["ModbusAdapter"]

Client = AsyncModbusTcpClient | AsyncModbusSerialClient


class ModbusAdapter(PollingAdapter):
    """A tank gauge or dispenser read over Modbus TCP or RTU, as its profile describes."""

    config: ModbusConfig

    def __init__(self, config: ModbusConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        profile = config.loaded_profile
        self.map = RegisterMap(profile, config.count)
        self.reads = self.map.plan()
        self.where = f"{config.transport} unit {config.unit_id}"
        self.requests = 0  # read requests answered
        self.records_made = 0
        self._client: Client | None = None
        products = ProductTable(
            codes={**profile.products, **config.product_codes}, by_number=config.products
        )
        self.interpreter: Interpreter
        if profile.kind == "tank_gauge":
            self.interpreter = TankGaugeReader(
                profile, numbers=config.station_numbers, products=products, log=self.log
            )
        else:
            seq = profile.register("last.seq")
            assert seq is not None  # required by the profile schema
            self.interpreter = DispenserTracker(
                numbers=config.station_numbers,
                products=products,
                states=profile.states,
                seq_bits=16 * seq.width,
                totalizer_interval_ms=round(config.totalizer_interval * 1000),
                log=self.log,
            )
        self._committed = self.interpreter.export_state()  # what the spool has
        self._pending: State | None = None  # what the last poll's records report
        if config.state_file is not None:
            self._load_state(config.state_file)
        self.log.info(
            "%s: %s %s at %s, %d read(s) per poll: %s",
            self.device_id,
            profile.device.vendor,
            profile.device.model,
            self.where,
            len(self.reads),
            ", ".join(map(str, self.reads)),
        )

    async def poll(self) -> list[BaseRecord]:
        """Read the device once. The records count as reported after ``commit()``."""
        client = self._client or await self._connect()
        replies = [(rng, await self._read(client, rng)) for rng in self.reads]
        try:
            readings = self.map.decode(replies)
        except CodecError as exc:
            raise ModbusBadReply(f"{self.where}: {exc}") from exc
        if self._pending is not None:  # the last poll's records never reached the spool
            self.interpreter.import_state(self._committed)
        records = self.interpreter.records(readings, self.ctx.clock())
        self._pending = self.interpreter.export_state()
        if not records:
            self.commit()
        self.records_made += len(records)
        return records

    def commit(self) -> None:
        """The last poll's records are stored: what they report is now reported."""
        if self._pending is None:
            return
        changed = self._pending != self._committed
        self._committed, self._pending = self._pending, None
        if changed and self.config.state_file is not None:
            self._save_state(self.config.state_file)

    def _load_state(self, path: Path) -> None:
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            self.log.warning(
                "%s: state file %s unreadable, starting afresh: %s", self.device_id, path, exc
            )
            return
        header = (saved.get("version"), saved.get("layout")) if isinstance(saved, dict) else None
        if header != (1, self._layout_key()):
            self.log.warning(
                "%s: state file %s is for another profile or numbering; starting afresh",
                self.device_id, path,
            )  # fmt: skip
            return
        try:
            self.interpreter.import_state(saved["state"])
        except (KeyError, TypeError, ValueError) as exc:
            self.log.warning(
                "%s: state file %s damaged, starting afresh: %s", self.device_id, path, exc
            )
            self.interpreter.import_state(self._committed)
            return
        self._committed = self.interpreter.export_state()
        self.log.info("%s: state restored from %s", self.device_id, path)

    def _save_state(self, path: Path) -> None:
        data = {"version": 1, "layout": self._layout_key(), "state": self._committed}
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:  # the records are safe in the spool; only memory is at stake
            self.log.error("%s: cannot save state to %s: %s", self.device_id, path, exc)

    def _layout_key(self) -> str:
        return f"{self.config.profile_path.name}:{self.config.station_numbers}"

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def _connect(self) -> Client:
        t = self.config.transport
        client: Client
        if isinstance(t, TcpTransport):
            client = AsyncModbusTcpClient(
                t.host,
                port=t.port,
                name=self.device_id,
                timeout=self.config.timeout,
                retries=self.config.retries,
                reconnect_delay=0,
            )
        else:
            if _missing_device_file(t.device):
                raise ModbusUnreachable(f"{self.where}: serial port {t.device} does not exist")
            client = AsyncModbusSerialClient(
                t.device,
                baudrate=t.baudrate,
                bytesize=t.bytesize,
                parity=t.parity,
                stopbits=t.stopbits,
                name=self.device_id,
                timeout=self.config.timeout,
                retries=self.config.retries,
                reconnect_delay=0,
            )
        if not await client.connect():
            client.close()
            raise ModbusUnreachable(f"{self.where}: cannot connect")
        self._client = client
        return client

    async def _read(self, client: Client, rng: ReadRange) -> list[int]:
        read = (
            client.read_holding_registers if rng.table == "holding" else client.read_input_registers
        )
        try:
            reply = await read(rng.start, count=rng.count, device_id=self.config.unit_id)
        except ConnectionException as exc:
            raise ModbusUnreachable(f"{self.where}: not connected, reading {rng}") from exc
        except ModbusIOException as exc:
            if "No response" in str(exc):
                raise ModbusTimeout(
                    f"{self.where}: no reply to read of {rng} within {self.config.timeout:g} s "
                    f"({self.config.retries} retries)"
                ) from exc
            raise ModbusBadReply(f"{self.where}: reading {rng}: {exc}") from exc
        except ModbusException as exc:
            raise ModbusBadReply(f"{self.where}: reading {rng}: {exc}") from exc
        if reply.isError():
            code = reply.exception_code
            name = EXCEPTION_NAMES.get(code, "unknown exception")
            raise ModbusExceptionReply(
                f"{self.where}: exception {code} ({name}) in reply to read of {rng}", code=code
            )
        registers = list(reply.registers)
        if len(registers) != rng.count:
            raise ModbusBadReply(f"{self.where}: read of {rng} returned {len(registers)} registers")
        self.requests += 1
        return registers


def _missing_device_file(device: str) -> bool:
    """A serial port given as a path that is not there (a URL like rfc2217:// is not a path)."""
    return device.startswith("/") and not Path(device).exists()
