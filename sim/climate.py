"""Ground temperature at tank depth, which buried product follows slowly.

Seasonal cycle (cosine, peak on ``warmest_day``; at 1-3 m depth the ground lags the air by
about a month) plus a small daily ripple. Product relaxes toward it with a first-order time
constant (a day or two for a part-full buried steel tank); deliveries mix in product at the
depot's temperature.
"""

from __future__ import annotations

import math

from fuelwatch.sim.clock import day_of_year, local_hour
from fuelwatch.sim.scenario import ClimateSpec

__all__ = ["Climate"]


class Climate:
    def __init__(self, spec: ClimateSpec, utc_offset_s: int) -> None:
        self.spec = spec
        self.utc_offset_s = utc_offset_s
        self.tau_s = spec.product_time_constant_hours * 3600
        self.mix_tau_s = spec.mixing_time_constant_hours * 3600
        self.probe_tau_s = spec.probe_time_constant_hours * 3600

    def ground(self, t_ms: int) -> float:
        s = self.spec
        season = math.cos(
            2 * math.pi * (day_of_year(t_ms, self.utc_offset_s) - s.warmest_day) / 365.25
        )
        daily = math.cos(2 * math.pi * (local_hour(t_ms, self.utc_offset_s) - 16) / 24)
        return s.ground_mean + s.seasonal_amplitude * season + s.daily_amplitude * daily

    def surface(self, t_ms: int) -> float:
        """What the day adds at the probe's top sensors (fill pipe, manhole, shallow ground)."""
        hour = local_hour(t_ms, self.utc_offset_s)
        return self.spec.probe_daily_amplitude * math.cos(2 * math.pi * (hour - 15) / 24)
