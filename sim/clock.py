"""Simulated time.

The station model owns a ``SimClock`` and is the only thing that moves it (``advance_to``
of the station). Two ways to drive it: a ``Pacer`` maps wall time to simulated time at a
speed factor (a station-day in minutes, for protocol servers and demos), or the offline
path steps it as fast as the CPU allows. Times are integer ms since the Unix epoch, UTC;
``local_*`` helpers use the station's UTC offset (China: +08:00, no daylight saving).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "DAY_MS",
    "HOUR_MS",
    "Pacer",
    "SimClock",
    "day_of_year",
    "local_hour",
    "local_minute_of_day",
    "next_local_time",
]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(slots=True)
class SimClock:
    now: int  # ms, simulated

    def advance(self, to_ms: int) -> None:
        if to_ms < self.now:
            raise ValueError(f"simulated time cannot go back ({to_ms} < {self.now})")
        self.now = to_ms


@dataclass(slots=True)
class Pacer:
    """Simulated time ``start_ms + speed * (wall seconds since creation)``."""

    start_ms: int
    speed: float
    monotonic: Callable[[], float] = time.monotonic
    _wall0: float = field(init=False)

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        self._wall0 = self.monotonic()

    def target(self) -> int:
        return self.start_ms + int((self.monotonic() - self._wall0) * self.speed * 1000)


def local_minute_of_day(t_ms: int, utc_offset_s: int) -> float:
    return ((t_ms // 1000 + utc_offset_s) % 86_400) / 60


def local_hour(t_ms: int, utc_offset_s: int) -> float:
    return local_minute_of_day(t_ms, utc_offset_s) / 60


def day_of_year(t_ms: int, utc_offset_s: int) -> float:
    """Fractional day of the year (1 = 1 January 00:00), close enough for seasons."""
    days_since_epoch = (t_ms / 1000 + utc_offset_s) / 86_400
    # 1970-01-01 is day 1; the mean year length keeps leap years from drifting the season
    return (days_since_epoch % 365.2425) + 1


def next_local_time(t_ms: int, utc_offset_s: int, minute_of_day: float) -> int:
    """The first instant strictly after ``t_ms`` at the given local minute of the day."""
    local_ms = t_ms + utc_offset_s * 1000
    day_start = local_ms - local_ms % DAY_MS
    candidate = day_start + int(minute_of_day * 60_000)
    if candidate <= local_ms:
        candidate += DAY_MS
    return candidate - utc_offset_s * 1000
