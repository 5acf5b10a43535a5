"""Poll a Veeder-Root TLS-350 console over TCP or a serial line and emit records.

Every poll reads ``i201`` (inventory); ``i202`` (deliveries) and ``i205`` (active alarms) are read
when their interval has passed. Faults are ``PollingAdapter``'s business: any error closes the
connection and the next poll opens a new one.

What has been reported (deliveries already emitted, alarms currently raised) is the adapter's
*ledger*. A poll computes the next ledger next to its records; the ledger is committed only
after the sink has the records on disk, and then saved to ``state_file`` if one is set, so a
restart neither re-emits a delivery nor loses one that the spool never got.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from fuelwatch.core.devices.status import TLS350_STATUS, normalise_status
from fuelwatch.core.devices.tls350 import TcpTransport, Tls350Config
from fuelwatch.core.records import AlarmRecord, BaseRecord, DeliveryRecord, InventoryRecord
from fuelwatch.core.volume import REFERENCE_C, reference_celsius
from fuelwatch.gateway.adapters.base import AdapterContext, PollingAdapter
from fuelwatch.gateway.adapters.tls350 import codec
from fuelwatch.gateway.adapters.tls350.codec import (
    DELIVERY_FIELDS,
    ETX,
    FIELD_QUANTITY,
    INVENTORY_FIELDS,
    Function,
)
from fuelwatch.gateway.adapters.tls350.errors import (
    ConnectionClosedError,
    MissingEtxError,
    ReplyTimeoutError,
)

__all__ = [
    "Tls350Adapter",
]

MAX_REPLY_BYTES = 1 << 20  # 99 tanks x 99 deliveries is ~1 MB; anything longer is noise
_READ_CHUNK = 65536


# ---------------------------------------------------------------------------------------------
# ledger

DeliveryKey = tuple[int, int, int]  # tank, start ms, end ms
AlarmKey = tuple[int, int]  # tank, alarm type


@dataclass(frozen=True, slots=True)
class _Ledger:
    deliveries: frozenset[DeliveryKey] = frozenset()  # reported, still in the console's buffer
    alarms: frozenset[AlarmKey] = frozenset()  # raised and not yet cleared

    def dump(self) -> str:
        return json.dumps(
            {"version": 1, "deliveries": sorted(self.deliveries), "alarms": sorted(self.alarms)}
        )

    @classmethod
    def load(cls, text: str) -> _Ledger:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a version 1 TLS-350 state file")
        return cls(
            deliveries=frozenset((int(t), int(s), int(e)) for t, s, e in data["deliveries"]),
            alarms=frozenset((int(t), int(a)) for t, a in data["alarms"]),
        )


# ---------------------------------------------------------------------------------------------
# adapter


class Tls350Adapter(PollingAdapter):
    """One TLS-350 console."""

    config: Tls350Config

    def __init__(self, config: Tls350Config, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self.tz = ZoneInfo(config.timezone)
        reference = reference_celsius(config.tc_reference)
        self._tc_reference = None if reference == REFERENCE_C else reference
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._rx = bytearray()
        self._next_deliveries = 0.0  # monotonic time when i202 is due
        self._next_alarms = 0.0
        self._ledger = self._load_ledger()
        self._pending: _Ledger | None = None
        self.requests = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        self._rx.clear()
        if writer is None:
            return
        writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), self.config.timeout)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        t = self.config.transport
        if isinstance(t, TcpTransport):
            opening = asyncio.open_connection(t.host, t.port)
        else:
            import serial_asyncio_fast  # noqa: PLC0415 - only serial consoles need pyserial

            opening = serial_asyncio_fast.open_serial_connection(
                url=t.device,
                baudrate=t.baudrate,
                bytesize=t.bytesize,
                parity=t.parity,
                stopbits=t.stopbits,
            )
        try:
            reader, writer = await asyncio.wait_for(opening, self.config.timeout)
        except TimeoutError:
            where = self.describe_transport()
            raise TimeoutError(f"opening {where} took over {self.config.timeout}s") from None
        self.log.info("device %s connected to %s", self.device_id, self.describe_transport())
        return reader, writer

    def describe_transport(self) -> str:
        t = self.config.transport
        if isinstance(t, TcpTransport):
            return f"tcp {t.host}:{t.port}"
        return f"serial {t.device} {t.baudrate} {t.bytesize}{t.parity}{t.stopbits}"

    # -- one request -------------------------------------------------------------------------

    async def request(self, function: str, tank: int = 0) -> bytes:
        """Send one command and return the raw reply through its ETX."""
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await self._connect()
        reader, writer = self._reader, self._writer
        if self._rx:  # bytes nobody asked for: a late reply or line noise; start clean
            self.log.debug("device %s: discarding %d stale bytes", self.device_id, len(self._rx))
            self._rx.clear()
        command = codec.build_command(function, tank, security_code=self.config.security_code)
        writer.write(command)
        await writer.drain()
        self.requests += 1
        while (end := self._rx.find(ETX)) < 0:
            if len(self._rx) > MAX_REPLY_BYTES:
                raise MissingEtxError(
                    f"no ETX within {MAX_REPLY_BYTES} bytes of reply to {command[1:]!r}",
                    bytes(self._rx),
                )
            try:
                chunk = await asyncio.wait_for(reader.read(_READ_CHUNK), self.config.timeout)
            except TimeoutError:
                raise ReplyTimeoutError(
                    f"no reply to {command[1:]!r} within {self.config.timeout}s"
                    if not self._rx
                    else f"reply to {command[1:]!r} stalled after {len(self._rx)} bytes",
                    bytes(self._rx),
                ) from None
            if not chunk:
                raise ConnectionClosedError(
                    f"connection closed after {len(self._rx)} bytes of reply to {command[1:]!r}",
                    bytes(self._rx),
                )
            self._rx += chunk
        reply = bytes(self._rx[: end + 1])
        del self._rx[: end + 1]
        return reply

    # -- the poll ----------------------------------------------------------------------------

    async def poll(self) -> list[BaseRecord]:
        gts = self.ctx.clock()
        records: list[BaseRecord] = []
        inventory = codec.parse_inventory(await self.request(Function.INVENTORY))
        records += self._inventory_records(inventory, gts)

        ledger = self._ledger
        now = time.monotonic()
        deliveries_due, alarms_due = now >= self._next_deliveries, now >= self._next_alarms
        if deliveries_due:
            report = codec.parse_deliveries(await self.request(Function.DELIVERIES))
            new, ledger = self._delivery_records(report, ledger, gts)
            records += new
        if alarms_due:
            report_alarms = codec.parse_alarms(await self.request(Function.ALARMS))
            changes, ledger = self._alarm_records(report_alarms, ledger, gts)
            records += changes
        # Only a whole poll counts: after a fault the next good poll reads i202/i205 again.
        if deliveries_due:
            self._next_deliveries = now + self.config.delivery_interval
        if alarms_due:
            self._next_alarms = now + self.config.alarm_interval
        self._pending = ledger if ledger != self._ledger else None
        return records

    def commit(self) -> None:
        """The last poll's records are on disk: what they report is now reported."""
        if self._pending is None:
            return
        self._ledger, self._pending = self._pending, None
        if self.config.state_file is not None:
            self._save_ledger(self.config.state_file)

    # -- records -----------------------------------------------------------------------------

    def _wanted(self, tank: int) -> bool:
        return self.config.tanks is None or tank in self.config.tanks

    def _product(self, code: str) -> str:
        mapped = self.config.products.get(code)
        if mapped is not None:
            return mapped
        return code if code.isascii() and code.isalnum() else f"code_{ord(code):02x}"

    def _metric(self, name: str, value: float) -> float:
        return codec.to_metric(FIELD_QUANTITY[name], value, self.config.units)

    def _inventory_records(self, report: codec.InventoryReport, gts: int) -> list[BaseRecord]:
        ts = codec.to_utc_ms(report.time, self.tz)
        return [
            InventoryRecord(
                ts=ts,
                gts=gts,
                tank=t.tank,
                product=self._product(t.product_code),
                status=normalise_status(t.status, TLS350_STATUS),
                tc_reference=self._tc_reference,
                **{name: self._metric(name, getattr(t, name)) for name in INVENTORY_FIELDS},
            )
            for t in report.tanks
            if self._wanted(t.tank)
        ]

    def _delivery_records(
        self, report: codec.DeliveryReport, ledger: _Ledger, gts: int
    ) -> tuple[list[BaseRecord], _Ledger]:
        new: list[DeliveryRecord] = []
        in_buffer: set[DeliveryKey] = set()
        for t in report.tanks:
            if not self._wanted(t.tank):
                continue
            for d in t.deliveries:
                start, end = codec.to_utc_ms(d.start, self.tz), codec.to_utc_ms(d.end, self.tz)
                key = (t.tank, start, end)
                if key in in_buffer or key in ledger.deliveries:
                    in_buffer.add(key)
                    continue
                in_buffer.add(key)
                new.append(
                    DeliveryRecord(
                        ts=end,
                        gts=gts,
                        tank=t.tank,
                        product=self._product(t.product_code),
                        start=start,
                        end=end,
                        **{name: self._metric(name, getattr(d, name)) for name in DELIVERY_FIELDS},
                    )
                )
        new.sort(key=lambda r: (r.tank, r.end, r.start))
        records: list[BaseRecord] = []
        records.extend(new)
        # Only keys still in the console's buffer are kept: the ledger stays as small as it is.
        return records, _Ledger(frozenset(in_buffer), ledger.alarms)

    def _alarm_records(
        self, report: codec.AlarmReport, ledger: _Ledger, gts: int
    ) -> tuple[list[BaseRecord], _Ledger]:
        ts = codec.to_utc_ms(report.time, self.tz)
        active = {(t.tank, a) for t in report.tanks if self._wanted(t.tank) for a in t.alarms}
        records: list[BaseRecord] = []
        for key, raised in [(k, True) for k in sorted(active - ledger.alarms)] + [
            (k, False) for k in sorted(ledger.alarms - active)
        ]:
            tank, number = key
            kind = codec.alarm_type(number)
            records.append(
                AlarmRecord(
                    ts=ts,
                    gts=gts,
                    code=kind.code,
                    active=raised,
                    severity=kind.severity,
                    message=f"{kind.name}, tank {tank}" + ("" if raised else " cleared"),
                    tank=tank,
                )
            )
        return records, _Ledger(ledger.deliveries, frozenset(active))

    # -- persistence -------------------------------------------------------------------------

    def _load_ledger(self) -> _Ledger:
        path = self.config.state_file
        if path is None:
            return _Ledger()
        try:
            return _Ledger.load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _Ledger()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.log.warning(
                "device %s: ignoring unreadable state file %s (%s); deliveries still in the "
                "console will be reported again",
                self.device_id,
                path,
                exc,
            )
            return _Ledger()

    def _save_ledger(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(self._ledger.dump(), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            self.log.warning("device %s: cannot save %s: %s", self.device_id, path, exc)
