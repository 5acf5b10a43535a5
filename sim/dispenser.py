"""Dispenser nozzles: lift -> authorise -> flow -> stop -> hang, with electronic totalizers.

Each nozzle has a fixed meter error ``e`` (registered = true x (1 + e)), drawn once inside
the legal limit (JJG 443: ±0.30 %). Over-registration tampering multiplies that by
(1 + x) for the sales that start while the cheat is switched on: the customer gets less than
the display says, and the transaction and the totalizer show more than the tank lost.

Registered volumes are whole centilitres and amounts whole fen (what the display shows);
the totalizers add exactly the registered volume and amount of each sale, so
``totalizer_after - totalizer_before == volume`` for every transaction, as on a real
dispenser. The true volume follows from the registered one and the (tampered) error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fuelwatch.sim.state import NozzleSnapshot, TransactionSnapshot

__all__ = ["Fuelling", "Nozzle"]


@dataclass(slots=True)
class Fuelling:
    """One sale in progress. Times are true simulated ms."""

    order_id: str
    lift: int
    unit_price: float
    registered_cl: int  # what the meter will have registered at the end, centilitres
    amount_fen: int
    paid_fen: int
    true_litres: float  # what actually leaves the tank
    flow: float  # true L/s
    boost: float = 1.0  # over-registration factor in force for this sale
    payment: str = ""
    start: int = 0
    end: int = 0

    @property
    def registered(self) -> float:
        return self.registered_cl / 100


class Nozzle:
    def __init__(
        self,
        *,
        number: int,
        dispenser: int,
        product: str,
        tank: int,
        meter_error: float,
        unit_price: float,
        volume_total: float = 0.0,
        amount_total: float = 0.0,
    ) -> None:
        self.number = number
        self.dispenser = dispenser
        self.product = product
        self.tank = tank
        self.meter_error = meter_error
        self.unit_price = unit_price
        self.state: Literal["idle", "lifted", "fuelling"] = "idle"
        self.fuelling: Fuelling | None = None
        self.volume_total_cl = round(volume_total * 100)
        self.amount_total_fen = round(amount_total * 100)
        self.seq = 0
        self.last: TransactionSnapshot | None = None

    def error(self, boost: float = 1.0) -> float:
        """Registered / true, minus one."""
        return (1 + self.meter_error) * boost - 1

    # -- one sale --------------------------------------------------------------------------

    def lift(self, fuelling: Fuelling) -> None:
        if self.state != "idle":
            raise RuntimeError(f"nozzle {self.number} is {self.state}, cannot lift")
        self.state = "lifted"
        self.fuelling = fuelling

    def start_flow(self, t_ms: int) -> Fuelling:
        fuelling = self._current("lifted")
        fuelling.start = t_ms
        self.state = "fuelling"
        return fuelling

    def stop_flow(self, t_ms: int) -> Fuelling:
        fuelling = self._current("fuelling")
        fuelling.end = t_ms
        self.state = "lifted"
        return fuelling

    def hang(self, clock_offset_ms: int = 0) -> tuple[Fuelling, TransactionSnapshot]:
        """Complete the sale: totalizers move, the transaction is final."""
        fuelling = self._current("lifted")
        before = self.volume_total_cl
        self.volume_total_cl += fuelling.registered_cl
        self.amount_total_fen += fuelling.amount_fen
        self.seq += 1
        self.last = TransactionSnapshot(
            seq=self.seq,
            order_id=fuelling.order_id,
            unit_price=fuelling.unit_price,
            volume=fuelling.registered,
            amount=fuelling.amount_fen / 100,
            paid=fuelling.paid_fen / 100,
            start=fuelling.start + clock_offset_ms,
            end=fuelling.end + clock_offset_ms,
            totalizer_before=before / 100,
            totalizer_after=self.volume_total_cl / 100,
        )
        self.state = "idle"
        self.fuelling = None
        return fuelling, self.last

    def _current(self, state: str) -> Fuelling:
        if self.state != state or self.fuelling is None:
            raise RuntimeError(f"nozzle {self.number} is {self.state}, expected {state}")
        return self.fuelling

    # -- tampering -------------------------------------------------------------------------

    def shift_totalizer(self, litres: float) -> tuple[float, float]:
        """Move the volume totalizer by ``litres`` (negative: roll back). Returns before/after."""
        before = self.volume_total_cl
        self.volume_total_cl = max(before + round(litres * 100), 0)
        return before / 100, self.volume_total_cl / 100

    # -- what the dispenser shows ------------------------------------------------------------

    def current_volume(self, t_ms: int) -> float:
        """The registered volume on the display now."""
        f = self.fuelling
        if f is None:
            return 0.0
        if self.state == "fuelling":
            flowed = f.flow * (t_ms - f.start) / 1000
            registered = min(flowed * (1 + self.error(f.boost)), f.registered)
            return round(max(registered, 0.0), 2)
        return f.registered if f.end else 0.0

    def snapshot(self, t_ms: int) -> NozzleSnapshot:
        shown = self.current_volume(t_ms)
        f = self.fuelling
        price = f.unit_price if f is not None else self.unit_price
        return NozzleSnapshot(
            dispenser=self.dispenser,
            nozzle=self.number,
            product=self.product,
            unit_price=price,
            state=self.state,
            current_volume=shown,
            # the electronic totalizer counts pulses as they come
            volume_total=(self.volume_total_cl + round(shown * 100)) / 100,
            amount_total=(self.amount_total_fen + round(shown * price * 100)) / 100,
            last=self.last,
        )
