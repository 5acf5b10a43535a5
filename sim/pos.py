"""The station's POS / management system (零管系统): what the station declares (进销存).

It sees every dispenser sale the POS is told about, the deliveries the station receives on
paper (one per e-waybill, at the waybill's 20 °C volume), and once a day records stock per
tank: ``measured_volume`` is the gauge's reading, ``book_volume`` is the POS's own running
book (opening gauge volume + declared deliveries - declared sales). It queues rows in the
POS push format (``/v1/sales``, ``/v1/deliveries``, ``/v1/inventory``; docs/simulator.md) and
hands them over on each push. What the POS leaves out (a ``pos_omission`` injection, an
unregistered delivery) never appears here.
"""

from __future__ import annotations

from typing import Any

from fuelwatch.sim.delivery import Waybill
from fuelwatch.sim.events import PosEndpoint, PosPush
from fuelwatch.sim.state import TankSnapshot, TransactionSnapshot

__all__ = ["PosSystem"]


class PosSystem:
    def __init__(self, opening: dict[int, float]) -> None:
        self.book = dict(opening)  # tank -> litres
        self._queue: dict[PosEndpoint, list[dict[str, Any]]] = {
            "sales": [],
            "deliveries": [],
            "inventory": [],
        }
        self.declared_sales = 0
        self.declared_deliveries = 0

    def sale(
        self,
        *,
        ts: int,
        txn: TransactionSnapshot,
        nozzle: int,
        tank: int,
        product: str,
        payment: str,
    ) -> None:
        self.book[tank] -= txn.volume
        self.declared_sales += 1
        self._queue["sales"].append(
            {
                "ts": ts,
                "order_id": txn.order_id,
                "nozzle": nozzle,
                "product": product,
                "unit_price": txn.unit_price,
                "volume": txn.volume,
                "amount": txn.amount,
                "paid": txn.paid,
                "payment": payment,
            }
        )

    def delivery(self, *, ts: int, waybill: Waybill, tank: int) -> None:
        self.book[tank] += waybill.volume_20
        self.declared_deliveries += 1
        self._queue["deliveries"].append(
            {
                "ts": ts,
                "waybill_id": waybill.waybill_id,
                "tank": tank,
                "product": waybill.product,
                "volume": waybill.volume_20,
                "supplier": waybill.supplier,
                "vehicle": waybill.vehicle,
            }
        )

    def inventory(self, *, ts: int, readings: list[TankSnapshot]) -> None:
        for reading in readings:
            self._queue["inventory"].append(
                {
                    "ts": ts,
                    "tank": reading.tank,
                    "product": reading.product,
                    "book_volume": round(self.book[reading.tank], 2),
                    "measured_volume": reading.volume,
                }
            )

    def push(self, at: int) -> list[PosPush]:
        """Everything queued since the last push, one push per endpoint that has rows."""
        pushes = [
            PosPush(at=at, endpoint=endpoint, rows=tuple(rows))
            for endpoint, rows in self._queue.items()
            if rows
        ]
        for rows in self._queue.values():
            rows.clear()
        return pushes
