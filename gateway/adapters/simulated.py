"""Built-in simulated devices, for trying the pipeline without any station hardware.

They produce plausible, self-consistent readings inside the gateway process (no protocol
on the wire). The physical station simulator that speaks real TLS-350 / Modbus / POS
protocols is ``fuelwatch sim``; these are for the backbone, benchmarks and quick demos.
"""

from __future__ import annotations

import random

from fuelwatch.core.devices.simulated import SimulatedDispenserConfig, SimulatedTankGaugeConfig
from fuelwatch.core.records import (
    BaseRecord,
    InventoryRecord,
    NozzleEventRecord,
    TotalizerRecord,
    TransactionRecord,
)
from fuelwatch.gateway.adapters.base import AdapterContext, PollingAdapter

__all__ = [
    "SimulatedDispenser",
    "SimulatedTankGauge",
]

PRODUCTS = ("92", "95", "98", "0")
PRICES = {"92": 7.52, "95": 8.03, "98": 8.91, "0": 7.21}


class SimulatedTankGauge(PollingAdapter):
    """Tanks drawn down slowly with gauge noise; one reading per tank per poll."""

    config: SimulatedTankGaugeConfig

    def __init__(self, config: SimulatedTankGaugeConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self._rng = random.Random(config.seed)
        self._volume = [config.capacity * self._rng.uniform(0.3, 0.9) for _ in range(config.tanks)]

    async def poll(self) -> list[BaseRecord]:
        now = self.ctx.clock()
        cap = self.config.capacity
        out: list[BaseRecord] = []
        for i, previous in enumerate(self._volume):
            vol = previous - self._rng.uniform(0.0, 2.0)
            if vol < 0.1 * cap:
                vol = 0.9 * cap  # a delivery
            self._volume[i] = vol
            temp = 18.0 + self._rng.gauss(0, 0.05)
            # horizontal cylinder, 2.8 m diameter: invert roughly for a plausible height
            height = 2800.0 * (vol / cap) ** 0.9
            out.append(
                InventoryRecord(
                    ts=now,
                    gts=now,
                    tank=i + 1,
                    product=PRODUCTS[i % len(PRODUCTS)],
                    volume=round(vol + self._rng.gauss(0, 0.5), 1),
                    tc_volume=round(vol * (1 - 0.00095 * (temp - 20.0)), 1),
                    ullage=round(cap - vol, 1),
                    height=round(height, 1),
                    water=0.0,
                    temperature=round(temp, 2),
                    water_volume=0.0,
                    status=0,
                )
            )
        return out


class SimulatedDispenser(PollingAdapter):
    """Nozzle lift -> transaction -> hang, with totalizers that always agree with sales."""

    config: SimulatedDispenserConfig

    def __init__(self, config: SimulatedDispenserConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self._rng = random.Random(config.seed)
        self._totals = [self._rng.uniform(1e5, 1e6) for _ in range(config.nozzles)]
        self._orders = 0

    async def poll(self) -> list[BaseRecord]:
        now = self.ctx.clock()
        out: list[BaseRecord] = []
        for i in range(self.config.nozzles):
            if self._rng.random() >= self.config.sale_probability:
                continue
            nozzle = i + 1
            product = PRODUCTS[i % len(PRODUCTS)]
            volume = round(self._rng.uniform(5.0, 60.0), 2)
            price = PRICES[product]
            before = round(self._totals[i], 2)
            after = round(before + volume, 2)
            self._totals[i] = after
            self._orders += 1
            start = now - int(volume / 0.6 * 1000)  # ~36 L/min
            out += [
                NozzleEventRecord(ts=start, gts=now, nozzle=nozzle, product=product, event="lift"),
                TransactionRecord(
                    ts=now,
                    gts=now,
                    nozzle=nozzle,
                    product=product,
                    order_id=f"{self.device_id}-{self._orders:08d}",
                    unit_price=price,
                    volume=volume,
                    amount=round(volume * price, 2),
                    paid=round(volume * price, 2),
                    start=start,
                    end=now,
                    totalizer_before=before,
                    totalizer_after=after,
                ),
                NozzleEventRecord(
                    ts=now, gts=now, nozzle=nozzle, product=product, event="hang", volume=volume
                ),
                TotalizerRecord(
                    ts=now, gts=now, nozzle=nozzle, product=product, volume_total=after
                ),
            ]
        return out
