"""Customers: when they come (a non-homogeneous Poisson process) and what they buy.

The arrival rate follows a 24-point daily profile in local time (quiet at night, peaks in the
morning and evening rush; linear between hourly points, scaled so a weekday averages
``sales_per_day``), times ``weekend_factor`` on Saturdays and Sundays. Arrivals are drawn by
thinning (Lewis & Shedler 1979): candidates at the peak rate, each kept with probability
rate(t) / peak.

A customer either pays a round amount (the dispenser stops when the registered amount
reaches it) or fills up a volume drawn from a log-normal around the product's mean; pays by
one of the usual methods; a share gets a per-litre member discount.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from fuelwatch.sim.clock import DAY_MS
from fuelwatch.sim.scenario import CustomerSpec, ProductSpec

__all__ = ["ArrivalProcess", "DailyProfile", "Demand", "DemandSampler"]

PRESET_AMOUNTS = (50, 100, 100, 150, 200, 200, 200, 300, 300, 500)
PAYMENTS = (("wechat", 0.45), ("alipay", 0.25), ("fuel_card", 0.2), ("cash", 0.1))
FILL_SIGMA = 0.45  # log-normal shape of fill-up volumes


class DailyProfile:
    """Relative arrival rate by local time of day; a weekday averages 1."""

    def __init__(
        self, weights: tuple[float, ...], weekend_factor: float, utc_offset_s: int
    ) -> None:
        mean = sum(weights) / len(weights)
        self.weights = tuple(w / mean for w in weights)
        self.weekend_factor = weekend_factor
        self.utc_offset_ms = utc_offset_s * 1000
        self.peak = max(self.weights) * max(weekend_factor, 1.0)

    def factor(self, t_ms: int) -> float:
        local = t_ms + self.utc_offset_ms
        # hourly points sit at the middle of each hour; interpolate between neighbours
        hours = (local % DAY_MS) / 3_600_000 - 0.5
        i = math.floor(hours)
        frac = hours - i
        w = self.weights
        value = w[i % 24] * (1 - frac) + w[(i + 1) % 24] * frac
        weekday = (local // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        return value * (self.weekend_factor if weekday >= 5 else 1.0)


class ArrivalProcess:
    def __init__(self, per_day: float, profile: DailyProfile, rng: random.Random) -> None:
        self.base_per_ms = per_day / DAY_MS
        self.profile = profile
        self.rng = rng

    def next_after(self, t_ms: int) -> int:
        peak = self.base_per_ms * self.profile.peak
        t = float(t_ms)
        while True:
            t += self.rng.expovariate(peak)
            if self.rng.random() * self.profile.peak <= self.profile.factor(int(t)):
                return int(t) + 1


@dataclass(frozen=True, slots=True)
class Demand:
    product: str
    preset_amount: float | None  # yuan, or None for a fill-up
    litres: float  # wanted true volume of a fill-up (ignored for a preset)
    payment: str
    discount_per_litre: float


class DemandSampler:
    def __init__(
        self,
        spec: CustomerSpec,
        products: dict[str, ProductSpec],
        mix: dict[str, float],
        rng: random.Random,
    ) -> None:
        self.spec = spec
        self.products = products
        self.rng = rng
        self._mix = sorted(mix.items())
        self._pay_names = [p for p, _ in PAYMENTS]
        self._pay_weights = [w for _, w in PAYMENTS]

    def product(self) -> str:
        names = [p for p, _ in self._mix]
        return self.rng.choices(names, weights=[w for _, w in self._mix])[0]

    def draw(self, product: str | None = None) -> Demand:
        rng, spec = self.rng, self.spec
        product = product or self.product()
        mean = self.products[product].fill_mean
        mu = math.log(mean) - FILL_SIGMA**2 / 2
        litres = min(max(rng.lognormvariate(mu, FILL_SIGMA), 2.0), mean * 5)
        preset = float(rng.choice(PRESET_AMOUNTS)) if rng.random() < spec.preset_share else None
        payment = rng.choices(self._pay_names, weights=self._pay_weights)[0]
        discount = spec.discount_per_litre if rng.random() < spec.discount_share else 0.0
        return Demand(product, preset, litres, payment, discount)
