"""Records that are valid JSON of the right shape but cannot be true.

Checked after the signature holds, record by record: an implausible record is refused with
reason ``implausible`` (its evidence in ``rejected``) and the rest of its envelope is stored.
An envelope whose ``sent`` time is implausible is refused whole.

- a time (``ts``, ``gts``, ``start``, ``end``) more than ``future_ms`` ahead of ingest's clock;
- ``ts`` below 10^12 (before 2001-09-09): seconds where milliseconds are due;
- ``ts`` more than ``before_registration_ms`` before the gateway was registered (a device may
  hand over some history at its first poll: deliveries, stored sales);
- a negative volume; a negative height, or one above the tank's full height (the last row of
  its registered strapping table, when there is one);
- a temperature outside -50 ... +80 °C.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fuelwatch.core.records import BaseRecord

__all__ = ["Limits", "envelope_problem", "record_problem"]

SECONDS_BELOW = 1_000_000_000_000  # ms; a ts below this is 2001 or earlier: seconds, surely
TEMPERATURE = (-50.0, 80.0)
VOLUMES = frozenset(
    {
        "volume",
        "tc_volume",
        "ullage",
        "water_volume",
        "volume_total",
        "start_volume",
        "end_volume",
        "start_tc_volume",
        "end_tc_volume",
        "book_volume",
        "measured_volume",
    }
)
HEIGHTS = frozenset({"height", "water", "start_height", "end_height", "start_water", "end_water"})
TEMPERATURES = frozenset({"temperature", "start_temperature", "end_temperature"})
TIMES = ("ts", "gts", "start", "end")


@dataclass(frozen=True, slots=True)
class Limits:
    future_ms: int
    before_registration_ms: int


def _ms(value: int) -> str:
    return f"{value} ms"


def envelope_problem(sent: int, *, now_ms: int, limits: Limits) -> str | None:
    if sent > now_ms + limits.future_ms:
        return f"sent {_ms(sent)} is {(sent - now_ms) / 1000:.0f} s in the future"
    return None


@dataclass(frozen=True, slots=True)
class _Fields:
    """Which of a record class's attributes each check looks at (computed once per class)."""

    times: tuple[str, ...]
    volumes: tuple[str, ...]
    heights: tuple[str, ...]
    temperatures: tuple[str, ...]


_FIELDS: dict[type[BaseRecord], _Fields] = {}


def _fields(cls: type[BaseRecord]) -> _Fields:
    names = tuple(cls.model_fields)
    found = _FIELDS[cls] = _Fields(
        times=tuple(n for n in TIMES if n in names),
        volumes=tuple(n for n in names if n in VOLUMES),
        heights=tuple(n for n in names if n in HEIGHTS),
        temperatures=tuple(n for n in names if n in TEMPERATURES),
    )
    return found


def record_problem(
    record: BaseRecord,
    *,
    now_ms: int,
    registered_ms: int | None,
    tank_heights: Mapping[int, float],
    limits: Limits,
) -> str | None:
    data = record.__dict__
    f = _FIELDS.get(type(record)) or _fields(type(record))
    latest = now_ms + limits.future_ms
    for name in f.times:
        value = data[name]
        if value is not None and value > latest:
            return f"{name} {_ms(value)} is {(value - now_ms) / 1000:.0f} s in the future"
    ts = record.ts
    if ts < SECONDS_BELOW:
        return f"ts {ts} looks like seconds, not milliseconds since the epoch"
    if registered_ms is not None and ts < registered_ms - limits.before_registration_ms:
        return f"ts {_ms(ts)} is before the gateway's registration ({_ms(registered_ms)})"
    for name in f.volumes:
        value = data[name]
        if value is not None and value < 0:
            return f"{name} {value} is negative"
    low, high = TEMPERATURE
    for name in f.temperatures:
        value = data[name]
        if value is not None and not low <= value <= high:
            return f"{name} {value} °C is outside {low:g}...{high:g} °C"
    if f.heights:
        tank = data.get("tank")
        full = tank_heights.get(tank) if tank is not None else None
        for name in f.heights:
            value = data[name]
            if value is None:
                continue
            if value < 0:
                return f"{name} {value} mm is negative"
            if full is not None and value > full:
                return f"{name} {value} mm is above tank {tank}'s full height {full:g} mm"
    return None
