"""The physical contents of one buried tank: what is really in it, not what the gauge says.

The conserved quantity is the product volume at 20 °C (``v20``, the GB/T 1885 reference
temperature); the gross (observed) volume is ``v20 * (1 + β (T - 20))`` with the product's
cubic expansion coefficient β. Everything that moves product is a rate integrated over the
time between two events (``step``): nozzle flows and a bypass (gross L/s at the product
temperature), a leak (gross L/s), evaporation (a fraction of stock per day), water ingress,
and a tanker unloading (L20/s at the depot temperature, mixed in by volume). Product
temperature relaxes toward the ground temperature with a first-order time constant.

``ledger`` counts every litre at 20 °C, so ``v20`` now equals opening + delivered - dispensed
- bypassed - evaporated - leaked - spilled exactly (the mass-balance tests check it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fuelwatch.sim.strapping import HorizontalCylinder

__all__ = ["Tank", "TankLedger"]

REFERENCE_C = 20.0


@dataclass(slots=True)
class TankLedger:
    """Litres at 20 °C, cumulative since the start of the run."""

    opening: float = 0.0
    delivered: float = 0.0
    dispensed: float = 0.0  # through the nozzles (true volume, whatever the meters say)
    dispensed_gross: float = 0.0  # the same at the product temperature
    bypassed: float = 0.0  # through an off-book bypass
    evaporated: float = 0.0
    leaked: float = 0.0
    spilled: float = 0.0  # an unloading that did not fit
    shortfall: float = 0.0  # gross L asked of an empty tank and not delivered

    def book(self) -> float:
        return (
            self.opening
            + self.delivered
            - self.dispensed
            - self.bypassed
            - self.evaporated
            - self.leaked
            - self.spilled
        )


@dataclass(slots=True)
class Tank:
    number: int
    product: str
    geometry: HorizontalCylinder
    beta: float  # cubic expansion, 1/°C
    v20: float
    temperature: float
    water: float = 0.0  # L
    evaporation_per_s: float = 0.0  # fraction of stock
    water_ingress_per_s: float = 0.0  # L/s
    leak: float = 0.0  # gross L/s, set by a leak injection
    flows: dict[int, float] = field(default_factory=dict)  # nozzle -> gross L/s
    bypass: float = 0.0  # gross L/s
    inflow: float = 0.0  # L20/s while a tanker unloads
    inflow_temperature: float = REFERENCE_C
    #: layering after a delivery: top-layer minus bulk temperature (°C); the gross volume
    #: depends on the bulk (volume-weighted) temperature only, the probe sees part of this
    stratification: float = 0.0
    stratification_fraction: float = 0.6
    probe_weight: float = 0.4
    probe_temperature: float | None = None  # what the probe's sensors read (lagging)
    ledger: TankLedger = field(default_factory=TankLedger)
    _water_level: tuple[float, float] = field(default=(0.0, 0.0), repr=False)  # (L, mm)

    def __post_init__(self) -> None:
        self.ledger.opening = self.v20

    def expansion(self, temperature: float | None = None) -> float:
        """Gross / 20 °C volume ratio at ``temperature`` (the product's own by default)."""
        t = self.temperature if temperature is None else temperature
        return 1 + self.beta * (t - REFERENCE_C)

    @property
    def gross(self) -> float:
        return self.v20 * self.expansion()

    @property
    def level(self) -> float:
        """Product surface height, mm (water underneath included)."""
        return self.geometry.height(self.water + self.gross)

    @property
    def water_level(self) -> float:
        """Water height, mm (cached: the water bottom rarely changes)."""
        if self._water_level[0] != self.water:
            self._water_level = (self.water, self.geometry.height(self.water))
        return self._water_level[1]

    def step(
        self,
        dt_s: float,
        ground: float,
        tau_s: float,
        *,
        mix_tau_s: float = 4 * 3600.0,
        probe_tau_s: float = 1800.0,
        surface: float = 0.0,
    ) -> None:
        """Integrate every rate over ``dt_s`` seconds.

        Heat: the bulk relaxes toward the ground faster when the tank is emptier (less
        product per metre of wetted shell); the layering decays by mixing; the probe's sensors
        follow the bulk, the visible share of the layering and the day's warmth at the top,
        with their own lag."""
        if dt_s <= 0:
            return
        fill = min(max(self.gross / self.geometry.capacity, 0.05), 1.0)
        tau = tau_s * (0.3 + 0.7 * fill)
        self.temperature += (ground - self.temperature) * (1 - math.exp(-dt_s / tau))
        self.stratification *= math.exp(-dt_s / mix_tau_s)
        target = self.temperature + self.probe_weight * self.stratification + surface
        if self.probe_temperature is None:
            self.probe_temperature = target
        else:
            self.probe_temperature += (target - self.probe_temperature) * (
                1 - math.exp(-dt_s / probe_tau_s)
            )
        self.water += self.water_ingress_per_s * dt_s
        if self.inflow > 0:
            self._fill(self.inflow * dt_s)
        self._draw(dt_s)

    def _fill(self, v20_in: float) -> None:
        """Mix in what fits; the rest overflows (counted as delivered, then spilled)."""
        room = max((self.geometry.capacity - self.water) / self.expansion() - self.v20, 0.0)
        taken = min(v20_in, room)
        if taken > 0:
            mixed = (self.v20 * self.temperature + taken * self.inflow_temperature) / (
                self.v20 + taken
            )
            # the new load layers: a share of its excess over the mix stays at the top (added
            # in proportion to each step's litres: the integral over an unloading)
            share = taken / (self.v20 + taken)
            self.stratification += (
                self.stratification_fraction * (self.inflow_temperature - mixed) * share
            )
            self.temperature = mixed
            self.v20 += taken
        self.ledger.delivered += v20_in
        self.ledger.spilled += v20_in - taken

    def _draw(self, dt_s: float) -> None:
        scale = self.expansion()
        nozzles = sum(self.flows.values()) * dt_s / scale
        bypass = self.bypass * dt_s / scale
        leak = self.leak * dt_s / scale
        evaporated = self.v20 * self.evaporation_per_s * dt_s
        wanted = nozzles + bypass + leak + evaporated
        if wanted <= 0:
            return
        share = 1.0 if wanted <= self.v20 else self.v20 / wanted
        if share < 1.0:
            self.ledger.shortfall += (wanted - self.v20) * scale
        self.v20 = max(self.v20 - wanted * share, 0.0)
        self.ledger.dispensed += nozzles * share
        self.ledger.dispensed_gross += nozzles * share * scale
        self.ledger.bypassed += bypass * share
        self.ledger.leaked += leak * share
        self.ledger.evaporated += evaporated * share
