"""Small scenarios for the simulator tests, built from a dict so each test states its change."""

from __future__ import annotations

import copy
from typing import Any

from fuelwatch.sim.events import StationEvent
from fuelwatch.sim.scenario import Scenario, parse_scenario
from fuelwatch.sim.station import Station

BASE: dict[str, Any] = {
    "station": {"id": "t01", "name": "test"},
    "seed": 11,
    "start": "2025-03-03T00:00:00+08:00",  # a Monday
    "duration": "2d",
    "products": {
        "92": {"kind": "gasoline", "tls_code": "1", "price": 7.52, "price_max": 7.90},
        "0": {"kind": "diesel", "tls_code": "4", "price": 7.21},
    },
    "tanks": [
        {
            "tank": 1,
            "product": "92",
            "diameter_mm": 2500,
            "length_mm": 5800,
            "head_depth_mm": 450,
            "initial_fill": 0.5,
        },
        {
            "tank": 2,
            "product": "0",
            "diameter_mm": 2500,
            "length_mm": 5800,
            "head_depth_mm": 450,
            "initial_fill": 0.6,
        },
    ],
    "dispensers": [
        {"dispenser": 1, "nozzles": [{"nozzle": 1, "tank": 1}, {"nozzle": 2, "tank": 2}]},
        {"dispenser": 2, "nozzles": [{"nozzle": 3, "tank": 1}, {"nozzle": 4, "tank": 2}]},
    ],
    "customers": {"sales_per_day": 300},
}


def data(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def scenario(**changes: Any) -> Scenario:
    return parse_scenario(data(**changes))


def run(sc: Scenario, *, until_ms: int | None = None) -> tuple[Station, list[StationEvent]]:
    """Run to the end (or ``until_ms``) in hourly steps; every event reported, in order."""
    station = Station(sc)
    events: list[StationEvent] = []
    end = sc.end_ms if until_ms is None else until_ms
    t = sc.start_ms
    while t < end:
        t = min(t + 3_600_000, end)
        station.advance_to(t)
        if t == sc.end_ms:
            station.flush_pos()
        events += station.drain()
    return station, events
