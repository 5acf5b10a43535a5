"""What the station model reports as it runs, for whoever turns it into feeds and files.

``at`` is always the true simulated time the thing happened (the gateway reads it then);
times inside (``ts``, transaction and delivery times) are on the reporting device's own
clock, which a clock-skew injection may put off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fuelwatch.sim.delivery import Waybill
from fuelwatch.sim.state import DeliverySnapshot, TransactionSnapshot

__all__ = [
    "AlarmEvent",
    "DeliveryEvent",
    "NozzleEvent",
    "PosEndpoint",
    "PosPush",
    "SaleEvent",
    "StationEvent",
    "WaybillEvent",
]

PosEndpoint = Literal["sales", "deliveries", "inventory"]


@dataclass(frozen=True, slots=True)
class NozzleEvent:
    at: int
    ts: int  # dispenser clock
    nozzle: int
    product: str
    event: Literal["lift", "hang"]
    volume: float | None = None


@dataclass(frozen=True, slots=True)
class SaleEvent:
    """A completed dispenser transaction (reported when the nozzle is hung)."""

    at: int
    nozzle: int
    product: str
    txn: TransactionSnapshot
    true_volume: float  # what really left the tank (ground truth; no record carries it)


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """The gauge closed a delivery (TLS-350 ``i202`` gains an entry)."""

    at: int
    product: str
    delivery: DeliverySnapshot


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    at: int
    ts: int  # gauge clock
    tank: int
    alarm_type: int
    active: bool


@dataclass(frozen=True, slots=True)
class WaybillEvent:
    at: int
    waybill: Waybill


@dataclass(frozen=True, slots=True)
class PosPush:
    """One push of the station's POS to the gateway: rows as the POS endpoint takes them."""

    at: int
    endpoint: PosEndpoint
    rows: tuple[dict[str, Any], ...]


StationEvent = NozzleEvent | SaleEvent | DeliveryEvent | AlarmEvent | WaybillEvent | PosPush
