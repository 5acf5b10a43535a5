"""The automatic tank gauge (ATG) of one tank: what it measures, detects and alarms.

Measurement: the probe reads the product and water float heights and the product
temperature, each with Gaussian noise, quantized to the probe's resolution. Volumes come from
the gauge's own strapping table (normally the real tank's; a "declared capacity" injection
may program the declared one), net of water; the TC volume corrects the gross volume to 20 °C
with the product's coefficient, as TLS consoles do.

Noise is a pure function of (seed, tank, channel, time): every reader at the same instant
sees the same reading, and the physics' random streams do not depend on how often protocol
servers poll.

Delivery detection is idealised: the gauge notes the start of each unloading and closes the
delivery ``settle_minutes`` after the last one ends (TLS-350 waits for the level to settle
too), recording start/end volumes, temperatures, water and heights as ``i202`` reports them.

Alarms (TLS-350 ``i205`` tank alarm types) are evaluated on every gauge tick with
hysteresis, so noise near a threshold does not make an alarm flap.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from fuelwatch.sim.scenario import GaugeSpec
from fuelwatch.sim.state import AlarmSnapshot, DeliverySnapshot, TankSnapshot
from fuelwatch.sim.strapping import StrappingTable
from fuelwatch.sim.tank import REFERENCE_C, Tank

__all__ = ["ALARM_CODES", "Gauge", "normal_noise"]

# TLS-350 tank alarm types (manual 576013-635) -> the code the gateway records carry.
ALARM_CODES = {
    2: "tank_leak",
    3: "high_water",
    4: "overfill",
    5: "low_product",
    6: "sudden_loss",
    7: "high_product",
    8: "invalid_level",
    9: "probe_out",
    10: "high_water_warning",
    11: "delivery_needed",
    12: "max_product",
}
STATUS_DELIVERY = 0x0001  # status bit: delivery in progress

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64 finaliser: a well-spread 64-bit hash of ``x``."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def normal_noise(seed: int, tank: int, t_ms: int) -> tuple[float, float, float, float]:
    """Four standard normal deviates determined by the arguments (Box-Muller on hashes)."""
    a = _mix(_mix(seed & _MASK) ^ _mix(tank) ^ t_ms)
    b = _mix(a)
    c = _mix(b)
    d = _mix(c)
    r1 = math.sqrt(-2 * math.log(((a >> 11) + 1) / 9007199254740993))  # u in (0, 1]
    r2 = math.sqrt(-2 * math.log(((c >> 11) + 1) / 9007199254740993))
    p1 = 2 * math.pi * (b >> 11) / 9007199254740992
    p2 = 2 * math.pi * (d >> 11) / 9007199254740992
    return r1 * math.cos(p1), r1 * math.sin(p1), r2 * math.cos(p2), r2 * math.sin(p2)


def _quantize(value: float, step: float) -> float:
    return round(round(value / step) * step, 6)


@dataclass(frozen=True, slots=True)
class _Rule:
    alarm_type: int
    raise_at: float
    clear_at: float  # back past raise_at by a margin, so noise does not make it flap
    above: bool  # raised when the value is at or above raise_at (else at or below)
    on_water: bool  # the water height (mm) instead of the product volume (L)


def _rule(alarm_type: int, limit: float, hysteresis: float, *, on_water: bool = False) -> _Rule:
    """A negative hysteresis makes a "too high" alarm, a positive one a "too low" alarm."""
    return _Rule(alarm_type, limit, limit + hysteresis, hysteresis < 0, on_water)


class Gauge:
    def __init__(
        self,
        tank: Tank,
        *,
        product_code: str,
        table: StrappingTable,
        spec: GaugeSpec,
        seed: int,
    ) -> None:
        self.tank = tank
        self.product_code = product_code
        self.table = table
        self.spec = spec
        self.seed = seed
        self.deliveries: deque[DeliverySnapshot] = deque(maxlen=spec.history)
        self.alarms: dict[int, int] = {}  # alarm type -> since (gauge clock, ms)
        self._unloading = 0
        self._delivery_start: TankSnapshot | None = None
        self._delivery_start_at = 0
        self._last: tuple[int, TankSnapshot] | None = None
        cap = table.capacity
        margin = 0.005 * cap
        self._rules = (
            _rule(4, spec.overfill_fraction * cap, -margin),
            _rule(7, spec.high_product_fraction * cap, -margin),
            _rule(5, spec.low_product_fraction * cap, margin),
            _rule(11, spec.delivery_needed_fraction * cap, margin),
            _rule(3, spec.high_water_mm, -2.0, on_water=True),
            _rule(10, spec.high_water_warning_mm, -2.0, on_water=True),
        )

    @property
    def capacity(self) -> float:
        """The capacity the gauge is programmed with, L."""
        return self.table.capacity

    def read(self, t_ms: int) -> TankSnapshot:
        """What the gauge reports at simulated time ``t_ms``."""
        if self._last is not None and self._last[0] == t_ms:
            return self._last[1]
        reading = self._measure(t_ms)
        self._last = (t_ms, reading)
        return reading

    def _measure(self, t_ms: int) -> TankSnapshot:
        s, tank = self.spec, self.tank
        n_height, n_water, n_temperature, _ = normal_noise(self.seed, tank.number, t_ms)
        top = self.table.heights[-1]
        height = _quantize(tank.level + s.height_noise_mm * n_height, s.height_resolution_mm)
        height = min(max(height, 0.0), top)
        # the water float rests on the bottom when there is no water; above that it is
        # steadier than the product float (a third of its noise)
        water = 0.0
        if tank.water > 0:
            water = _quantize(
                tank.water_level + s.height_noise_mm / 3 * n_water, s.height_resolution_mm
            )
            water = min(max(water, 0.0), height)
        # the console compensates with what its probe reads, not the product's true bulk
        # temperature: the difference is the gauge's (correlated) thermal error
        probe = tank.temperature if tank.probe_temperature is None else tank.probe_temperature
        temperature = _quantize(
            probe + s.temperature_noise * n_temperature, s.temperature_resolution
        )
        total = self.table.volume(height)
        water_volume = self.table.volume(water)
        volume = max(total - water_volume, 0.0)
        return TankSnapshot(
            tank=tank.number,
            product=tank.product,
            product_code=self.product_code,
            volume=round(volume, 3),
            tc_volume=round(volume / (1 + tank.beta * (temperature - REFERENCE_C)), 3),
            ullage=round(max(self.table.capacity - total, 0.0), 3),
            height=height,
            water=water,
            temperature=temperature,
            water_volume=round(water_volume, 3),
            status_bits=STATUS_DELIVERY if self._delivery_start is not None else 0,
        )

    # -- deliveries ------------------------------------------------------------------------

    def unloading_started(self, t_ms: int, clock_offset_ms: int) -> None:
        self._unloading += 1
        if self._delivery_start is None:
            self._delivery_start = self.read(t_ms)
            self._delivery_start_at = t_ms + clock_offset_ms

    def unloading_ended(self) -> bool:
        """True when no unloading is left: the station schedules ``close_delivery``."""
        self._unloading -= 1
        return self._unloading == 0

    def close_delivery(self, t_ms: int, clock_offset_ms: int) -> DeliverySnapshot | None:
        if self._unloading or self._delivery_start is None:
            return None  # another unloading began while this one settled
        start, end = self._delivery_start, self.read(t_ms)
        self._delivery_start = None
        delivery = DeliverySnapshot(
            tank=self.tank.number,
            product_code=self.product_code,
            start=self._delivery_start_at,
            end=t_ms + clock_offset_ms,
            start_volume=start.volume,
            start_tc_volume=start.tc_volume,
            start_water=start.water,
            start_temperature=start.temperature,
            end_volume=end.volume,
            end_tc_volume=end.tc_volume,
            end_water=end.water,
            end_temperature=end.temperature,
            start_height=start.height,
            end_height=end.height,
        )
        self.deliveries.append(delivery)
        return delivery

    # -- alarms ----------------------------------------------------------------------------

    def check_alarms(self, reading: TankSnapshot, clock_ms: int) -> list[tuple[int, bool]]:
        """Update the active alarms from a reading; returns (alarm type, active) changes."""
        changes: list[tuple[int, bool]] = []
        for rule in self._rules:
            value = reading.water if rule.on_water else reading.volume
            active = rule.alarm_type in self.alarms
            if rule.above:
                raise_now, clear_now = value >= rule.raise_at, value < rule.clear_at
            else:
                raise_now, clear_now = value <= rule.raise_at, value > rule.clear_at
            if not active and raise_now:
                self.alarms[rule.alarm_type] = clock_ms
                changes.append((rule.alarm_type, True))
            elif active and clear_now:
                del self.alarms[rule.alarm_type]
                changes.append((rule.alarm_type, False))
        return changes

    def alarm_snapshots(self) -> list[AlarmSnapshot]:
        return [
            AlarmSnapshot(tank=self.tank.number, alarm_type=kind, since=since)
            for kind, since in sorted(self.alarms.items())
        ]
