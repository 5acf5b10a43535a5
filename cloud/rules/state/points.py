"""The raw points the incremental state is fed with, as small typed tuples.

One class per measurement the rules use; times are ms (the device clock, as stored). ``rid``
identifies the stored point (see docs/data-model.md), so evidence can name it.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "GaugeDelivery",
    "NozzleMark",
    "PosDelivery",
    "PosSale",
    "Reading",
    "Sale",
    "Snapshot",
]


class Reading(NamedTuple):
    t: int  # when the gateway read it (gts) where stamped: one clock for every device
    tank: int
    tc: float  # L at 20 °C (converted from the console's reference where it differs)
    volume: float  # gross L
    temperature: float | None
    status: int  # normalised: bit 0x0001 = delivery in progress
    gts: int | None
    device: str
    rid: int | None
    ts: int = 0  # the device's own time (the stored point's time)


class Sale(NamedTuple):
    t: int  # end of fuelling (the point's time)
    nozzle: int
    product: str
    volume: float
    amount: float
    unit_price: float
    start: int
    end: int
    order_id: str
    totalizer_before: float | None
    totalizer_after: float | None
    rid: int | None
    device: str = ""


class Snapshot(NamedTuple):
    """A periodic totalizer reading of an idle or busy nozzle."""

    t: int
    nozzle: int
    volume_total: float
    gts: int | None
    device: str
    rid: int | None


class NozzleMark(NamedTuple):
    """A lift or hang (``volume`` on hang)."""

    t: int
    nozzle: int
    event: str
    volume: float | None
    rid: int | None
    device: str = ""


class GaugeDelivery(NamedTuple):
    t: int  # when the console closed it
    tank: int
    product: str
    start: int
    end: int
    start_tc: float
    end_tc: float
    start_volume: float
    end_volume: float
    start_temperature: float | None
    end_temperature: float | None
    rid: int | None


class PosDelivery(NamedTuple):
    t: int
    tank: int | None
    product: str
    volume: float
    waybill_id: str
    rid: int | None


class PosSale(NamedTuple):
    t: int
    nozzle: int | None
    product: str
    order_id: str
    volume: float
    amount: float
    rid: int | None
