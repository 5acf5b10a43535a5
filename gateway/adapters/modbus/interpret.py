"""Decoded register values -> records. Pure and clock-free: the caller passes ``now``.

A tank gauge is read as is: one InventoryRecord per tank per poll, alarm flags as
AlarmRecords when they change. A dispenser is a state machine per nozzle, because Modbus only
shows the present: the nozzle state gives lift / hang, the transaction counter says a sale
completed (its details are the ``last.*`` registers), the totalizers go out periodically.
If the counter moved by more than one between polls only the last sale is readable: it is
reported, and a ``transactions_missed`` alarm says how many were not.

A value the record model refuses (NaN, an unknown product code...) never stops the others:
it raises an ``invalid_reading`` alarm for that tank or nozzle (once, cleared when readings
are good again) and is logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from fuelwatch.core.devices.profile import Profile
from fuelwatch.core.devices.status import normalise_status
from fuelwatch.core.records import (
    AlarmRecord,
    BaseRecord,
    InventoryRecord,
    NozzleEventRecord,
    TotalizerRecord,
    TransactionRecord,
)
from fuelwatch.core.volume import REFERENCE_C, reference_celsius
from fuelwatch.gateway.adapters.modbus.codec import Value

__all__ = ["DispenserTracker", "Interpreter", "ProductTable", "State", "TankGaugeReader"]

Readings = Mapping[int, Mapping[str, Value]]
State = dict[str, Any]  # an interpreter's memory, as JSON-able data
INVENTORY_FIELDS = (
    "volume", "tc_volume", "ullage", "height", "water", "temperature", "water_volume", "status",
)  # fmt: skip


class InvalidReading(ValueError):
    """A decoded value that cannot become a record."""


@dataclass(frozen=True, slots=True)
class ProductTable:
    """Where a tank's or nozzle's product comes from: its product register through ``codes``,
    or, for devices without one, the gateway config's ``by_number``."""

    codes: Mapping[int, str]
    by_number: Mapping[int, str]

    def product(self, number: int, values: Mapping[str, Value]) -> str | None:
        if "product" not in values:
            return self.by_number.get(number)
        code = int(values["product"])
        if code not in self.codes:
            raise InvalidReading(f"product code {code} is not in the profile's products table")
        return self.codes[code]


def _finite(values: Mapping[str, Value]) -> None:
    bad = [k for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise InvalidReading(f"not a number: {', '.join(bad)}")


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)
        )
    return str(exc)


class _Validity:
    """One ``invalid_reading`` alarm per tank or nozzle while its readings are unusable."""

    def __init__(self, what: Literal["tank", "nozzle"], log: logging.Logger) -> None:
        self.what = what
        self.log = log
        self.bad: dict[int, str] = {}
        self.count = 0

    def failed(self, number: int, problem: str, now: int) -> list[BaseRecord]:
        self.count += 1
        if self.bad.get(number) == problem:
            return []
        self.log.warning("%s %d: invalid reading: %s", self.what, number, problem)
        self.bad[number] = problem
        return [self._alarm(number, f"{self.what} {number}: {problem}", now, active=True)]

    def export_state(self) -> dict[str, str]:
        return {str(n): problem for n, problem in self.bad.items()}

    def import_state(self, state: Mapping[str, str]) -> None:
        self.bad = {int(n): str(problem) for n, problem in state.items()}

    def ok(self, number: int, now: int) -> list[BaseRecord]:
        if self.bad.pop(number, None) is None:
            return []
        return [
            self._alarm(number, f"{self.what} {number}: readings valid again", now, active=False)
        ]

    def _alarm(self, number: int, message: str, now: int, *, active: bool) -> AlarmRecord:
        where = {"tank": number} if self.what == "tank" else {"nozzle": number}
        return AlarmRecord(
            ts=now, gts=now, code="invalid_reading", active=active, message=message[:1024], **where
        )


class TankGaugeReader:
    """One InventoryRecord per tank per poll; alarm flags become AlarmRecords on change."""

    def __init__(
        self,
        profile: Profile,
        *,
        numbers: Sequence[int],
        products: ProductTable,
        log: logging.Logger,
    ) -> None:
        self.numbers = list(numbers)
        self.products = products
        self.alarms = {
            reg.key: reg for block in profile.blocks for reg in block.registers if reg.code
        }
        self.active: dict[tuple[int, str], bool] = {}
        self.validity = _Validity("tank", log)
        self.status_bits = profile.status_bits
        reference = reference_celsius(profile.tc_reference)
        self.tc_reference = None if reference == REFERENCE_C else reference

    def export_state(self) -> State:
        """What was reported, as JSON-able data: active alarms, readings flagged invalid."""
        return {
            "alarms": sorted([t, key] for (t, key), on in self.active.items() if on),
            "invalid": self.validity.export_state(),
        }

    def import_state(self, state: State) -> None:
        self.active = {(int(t), str(key)): True for t, key in state["alarms"]}
        self.validity.import_state(state["invalid"])

    def records(self, readings: Readings, now: int) -> list[BaseRecord]:
        out: list[BaseRecord] = []
        for instance, values in sorted(readings.items()):
            tank = self.numbers[instance - 1]
            out += self._alarms(tank, values, now)
            try:
                _finite(values)
                product = self.products.product(tank, values)
                fields = {k: values[k] for k in INVENTORY_FIELDS if k in values}
                if "status" in fields:
                    fields["status"] = normalise_status(int(fields["status"]), self.status_bits)
                record = InventoryRecord(
                    ts=now,
                    gts=now,
                    tank=tank,
                    product=product,
                    tc_reference=self.tc_reference,
                    **fields,
                )
            except (InvalidReading, ValidationError) as exc:
                out += self.validity.failed(tank, _describe(exc), now)
                continue
            out += self.validity.ok(tank, now)
            out.append(record)
        return out

    def _alarms(self, tank: int, values: Mapping[str, Value], now: int) -> list[BaseRecord]:
        out: list[BaseRecord] = []
        for key, reg in self.alarms.items():
            active = bool(values.get(key, 0))
            before = self.active.get((tank, key))
            self.active[(tank, key)] = active
            if before == active or (before is None and not active):
                continue
            text = reg.description or (reg.code or key).replace("_", " ")
            out.append(
                AlarmRecord(
                    ts=now,
                    gts=now,
                    code=reg.code or key,
                    active=active,
                    severity=reg.severity,
                    message=f"tank {tank}: {text}" + ("" if active else " cleared"),
                    tank=tank,
                )
            )
        return out


@dataclass(slots=True)
class _Nozzle:
    seq: int | None = None  # transaction counter at the last poll; None before the first
    up: bool = False  # nozzle out of its holster, as the events we sent say
    cycle_open: bool = False  # a lift went out that no transaction has closed yet
    volume_seen: float = 0.0  # largest display volume in the current cycle
    totalizer_at: int | None = None  # gateway ms of the last TotalizerRecord


@dataclass(slots=True)
class DispenserTracker:
    """Nozzle state machines. ``seq_bits``: width of the transaction counter, for wrap-around."""

    numbers: Sequence[int]
    products: ProductTable
    states: Mapping[int, str]
    seq_bits: int
    totalizer_interval_ms: int
    log: logging.Logger
    nozzles: dict[int, _Nozzle] = field(default_factory=dict)
    missed: int = 0  # transactions the counter skipped over
    invalid: int = 0  # transactions read but refused by the record model
    validity: _Validity = field(init=False)

    def __post_init__(self) -> None:
        self.validity = _Validity("nozzle", self.log)

    def export_state(self) -> State:
        """Each nozzle's counter and cycle, as JSON-able data."""
        return {
            "nozzles": {str(number): asdict(n) for number, n in sorted(self.nozzles.items())},
            "invalid": self.validity.export_state(),
        }

    def import_state(self, state: State) -> None:
        self.nozzles = {
            int(number): _Nozzle(
                seq=None if n["seq"] is None else int(n["seq"]),
                up=bool(n["up"]),
                cycle_open=bool(n["cycle_open"]),
                volume_seen=float(n["volume_seen"]),
                totalizer_at=None if n["totalizer_at"] is None else int(n["totalizer_at"]),
            )
            for number, n in state["nozzles"].items()
        }
        self.validity.import_state(state["invalid"])

    def records(self, readings: Readings, now: int) -> list[BaseRecord]:
        out: list[BaseRecord] = []
        for instance, values in sorted(readings.items()):
            nozzle = self.numbers[instance - 1]
            try:
                # the last.* registers are checked with the sale they describe, so a bad one
                # cannot hold up the nozzle's events
                _finite({k: v for k, v in values.items() if not k.startswith("last.")})
                out += self._nozzle(nozzle, values, now)
            except (InvalidReading, ValidationError) as exc:
                out += self.validity.failed(nozzle, _describe(exc), now)
                continue
            out += self.validity.ok(nozzle, now)
        return out

    def _nozzle(self, nozzle: int, values: Mapping[str, Value], now: int) -> list[BaseRecord]:
        code = int(values["state"])
        if code not in self.states:
            raise InvalidReading(f"state {code} is not in the profile's states table")
        is_up = self.states[code] != "idle"
        product = self.products.product(nozzle, values)
        seq = int(values["last.seq"])
        current = float(values.get("current_volume", 0.0))
        n = self.nozzles.setdefault(nozzle, _Nozzle())
        out: list[BaseRecord] = []
        if n.seq is None:  # first sight: learn, report only the totalizers
            self.log.info(
                "nozzle %d: transaction counter at %d; sales before it are not reported",
                nozzle, seq,
            )  # fmt: skip
            n.seq, n.up = seq, is_up
        else:
            out += self._counter(nozzle, n, seq, product, values, now)
        if n.up:
            n.volume_seen = max(n.volume_seen, current)
        if is_up and not n.up:
            out.append(
                NozzleEventRecord(ts=now, gts=now, nozzle=nozzle, product=product, event="lift")
            )
            n.up, n.cycle_open, n.volume_seen = True, True, current
        elif n.up and not is_up:
            drawn = max(n.volume_seen, current) or None
            out.append(
                NozzleEventRecord(
                    ts=now, gts=now, nozzle=nozzle, product=product, event="hang", volume=drawn
                )
            )
            n.up = False
        if n.totalizer_at is None or now - n.totalizer_at >= self.totalizer_interval_ms:
            out.append(
                TotalizerRecord(
                    ts=now,
                    gts=now,
                    nozzle=nozzle,
                    product=product,
                    volume_total=values["volume_total"],
                    amount_total=values.get("amount_total"),
                )
            )
            n.totalizer_at = now
        return out

    def _counter(
        self,
        nozzle: int,
        n: _Nozzle,
        seq: int,
        product: str | None,
        values: Mapping[str, Value],
        now: int,
    ) -> list[BaseRecord]:
        """Records for a moved transaction counter: the sale, and the events not yet sent."""
        assert n.seq is not None
        before, n.seq = n.seq, seq
        delta = (seq - before) % (1 << self.seq_bits)
        if delta == 0:
            return []
        if delta >= 1 << (self.seq_bits - 1):  # went backwards: a reset, not a wrap
            self.log.warning(
                "nozzle %d: transaction counter went back %d -> %d", nozzle, before, seq
            )
            text = (
                f"transaction counter went back from {before} to {seq} (device reset or replaced)"
            )
            return [self._alarm(nozzle, "transaction_counter_reset", text, now)]
        out: list[BaseRecord] = []
        if delta > 1:
            self.missed += delta - 1
            self.log.warning(
                "nozzle %d: counter %d -> %d, %d transaction(s) not readable",
                nozzle, before, seq, delta - 1,
            )  # fmt: skip
            text = (
                f"transaction counter went from {before} to {seq} between two polls: "
                f"{delta - 1} transaction(s) could not be read, only #{seq} was"
            )
            out.append(self._alarm(nozzle, "transactions_missed", text, now))
        try:
            txn = _transaction(nozzle, product, values, now)
        except ValueError as exc:  # InvalidReading, ValidationError, int(nan)
            self.invalid += 1
            problem = _describe(exc)
            self.log.warning("nozzle %d: transaction #%d unusable: %s", nozzle, seq, problem)
            raw = ", ".join(f"{k}={v}" for k, v in values.items() if k.startswith("last."))
            text = f"transaction #{seq} could not be recorded: {problem} ({raw})"
            return [*out, self._alarm(nozzle, "invalid_transaction", text, now)]
        if not n.cycle_open:  # the whole sale happened between two polls
            out.append(
                NozzleEventRecord(
                    ts=txn.start, gts=now, nozzle=nozzle, product=product, event="lift"
                )
            )
        if n.up or not n.cycle_open:
            out.append(
                NozzleEventRecord(
                    ts=txn.end,
                    gts=now,
                    nozzle=nozzle,
                    product=product,
                    event="hang",
                    volume=txn.volume,
                )
            )
        out.append(txn)
        n.up, n.cycle_open, n.volume_seen = False, False, 0.0
        return out

    @staticmethod
    def _alarm(nozzle: int, code: str, text: str, now: int) -> AlarmRecord:
        message = f"nozzle {nozzle}: {text}"[:1024]
        return AlarmRecord(ts=now, gts=now, code=code, nozzle=nozzle, message=message)


def _transaction(
    nozzle: int, product: str | None, values: Mapping[str, Value], now: int
) -> TransactionRecord:
    if product is None:
        raise InvalidReading("no product known for the nozzle")
    end = int(values["last.end"])
    return TransactionRecord(
        ts=end,
        gts=now,
        nozzle=nozzle,
        product=product,
        order_id=str(int(values["last.order_id"])),
        unit_price=values.get("last.unit_price", values.get("unit_price")),
        volume=values["last.volume"],
        amount=values["last.amount"],
        paid=values.get("last.paid"),
        start=int(values["last.start"]),
        end=end,
        totalizer_before=values.get("last.totalizer_before"),
        totalizer_after=values.get("last.totalizer_after"),
    )


Interpreter = TankGaugeReader | DispenserTracker
