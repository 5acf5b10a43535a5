"""Tanker deliveries and their e-waybills (电子运单).

When a tank's gauge volume falls below ``reorder_fraction`` of its capacity the station orders
product; the depot loads a tanker and issues an e-waybill when it leaves (the volume is what
fills the tank to ``fill_fraction`` at that moment, rounded down to whole ``round_litres``,
stated at 20 °C as waybills are), the truck arrives after the travel time, and unloads by
gravity at ``unload_litres_per_minute``. The waybills are department data (transport): the
simulator writes them to ``waybills.jsonl`` for the cloud to import.
"""

from __future__ import annotations

import random
import string
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from fuelwatch.sim.clock import HOUR_MS
from fuelwatch.sim.scenario import DeliverySpec

__all__ = ["DeliveryPlanner", "Unloading", "Waybill"]

PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on Chinese plates


@dataclass(frozen=True, slots=True)
class Waybill:
    waybill_id: str
    station: str
    product: str
    volume_20: float  # litres at 20 °C
    vehicle: str  # plate
    supplier: str
    depart: int  # ms
    arrive: int  # ms

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def as_ewaybill(self) -> dict[str, object]:
        """The depot's e-waybill as the commerce department sends it: a row of the
        ``ewaybills`` import (docs/api.md, department data), times as ISO 8601 UTC."""
        return {
            "waybill_no": self.waybill_id,
            "station": self.station,
            "vehicle_plate": self.vehicle,
            "carrier": self.supplier[:128],
            "product": self.product,
            "volume_l": self.volume_20,
            "departed_at": datetime.fromtimestamp(self.depart / 1000, UTC).isoformat(),
            "arrived_at": datetime.fromtimestamp(self.arrive / 1000, UTC).isoformat(),
        }


@dataclass(slots=True)
class Unloading:
    """A tanker emptying into one tank (the truth, whatever the paperwork says)."""

    tank: int
    v20: float
    temperature: float
    start: int
    end: int
    waybill: Waybill | None
    injection: int | None = None  # the injection that made this delivery differ, if any


class DeliveryPlanner:
    def __init__(self, spec: DeliverySpec, *, station: str, rng: random.Random) -> None:
        self.spec = spec
        self.station = station
        self.rng = rng
        self.pending: set[int] = set()  # tanks with a delivery on its way
        self._count = 0
        self.trucks = [self._plate() for _ in range(3)]

    def _plate(self) -> str:
        tail = "".join(self.rng.choices(string.digits, k=4)) + self.rng.choice(PLATE_LETTERS)
        return f"津{self.rng.choice(PLATE_LETTERS)}{tail}"

    def wants(self, tank: int, volume: float, capacity: float) -> bool:
        return tank not in self.pending and volume < self.spec.reorder_fraction * capacity

    def schedule(self, t_ms: int, tank: int) -> tuple[int, int]:
        """Order now: (departure, arrival) times."""
        self.pending.add(tank)
        lead = self.rng.uniform(*self.spec.lead_time_hours) * HOUR_MS
        travel = min(self.rng.uniform(*self.spec.travel_time_hours) * HOUR_MS, lead)
        return int(t_ms + lead - travel), int(t_ms + lead)

    def volume_for(self, volume: float, capacity: float) -> float:
        """Litres at 20 °C to load for a tank now holding ``volume`` (0: not worth a trip)."""
        step = self.spec.round_litres
        room = self.spec.fill_fraction * capacity - volume
        litres = (room // step) * step
        return litres if litres >= self.spec.min_litres else 0.0

    def waybill(self, *, product: str, volume_20: float, depart: int, arrive: int) -> Waybill:
        self._count += 1
        return Waybill(
            waybill_id=f"YD-{self.station}-{self._count:05d}",
            station=self.station,
            product=product,
            volume_20=volume_20,
            vehicle=self.rng.choice(self.trucks),
            supplier=self.spec.supplier,
            depart=depart,
            arrive=arrive,
        )

    def unload_ms(self, gross_litres: float) -> int:
        return int(gross_litres / self.spec.unload_litres_per_minute * 60_000)

    def done(self, tank: int) -> None:
        self.pending.discard(tank)
