"""The scenario matrix: clean stations and every fraud class at several magnitudes.

Generated in code from one clean base station (the layout of ``clean-month.yaml``: four
tanks, eight nozzles) whose seed, sales volume, tank sizes and fills vary per station. Every
station starts at the same simulated instant so one rule-engine clock serves them all.

Trials on one station are sequential windows after a clean warm-up, each on another tank or
nozzle where the class allows, so one alarm answers one trial; magnitudes rotate over
stations (a Latin square), so each magnitude is tried on several stations and tanks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BASE_START", "MatrixConfig", "StationSpec", "build_matrix", "windows"]

BASE_START = "2026-09-01T00:00:00+08:00"  # a Tuesday; every station starts here
DISTRICT = "bench"
PRODUCTS: dict[str, dict[str, Any]] = {
    "92": {"kind": "gasoline", "tls_code": "1", "price": 7.52, "price_max": 7.90},
    "95": {"kind": "gasoline", "tls_code": "2", "price": 8.03, "price_max": 8.43},
    "98": {"kind": "gasoline", "tls_code": "3", "price": 8.91, "price_max": 9.36},
    "0": {"kind": "diesel", "tls_code": "4", "price": 7.21, "price_max": 7.58},
}
MIX = {"92": 0.5, "95": 0.25, "98": 0.05, "0": 0.2}
TANK_PRODUCT = {1: "92", 2: "95", 3: "98", 4: "0"}
NOZZLE_TANK = {1: 1, 2: 2, 3: 1, 4: 2, 5: 1, 6: 3, 7: 4, 8: 4}

OVER_REGISTRATION = (0.3, 0.5, 1.0, 2.0)  # % of the nozzle's registered volume
HIDDEN_SALES = (0.5, 1.0, 2.0, 5.0)  # % of the tank's (bypass) / station's (POS) sales
LEAK = (0.38, 0.76, 1.5, 3.0)  # L/h
UNREGISTERED = (300.0, 500.0, 1000.0, 3000.0)  # L at 20 °C
TOTALIZER = (10.0, 100.0, 1000.0)  # L


@dataclass(frozen=True, slots=True)
class MatrixConfig:
    clean: int = 12
    over_registration: int = 4
    offbook_bypass: int = 4
    pos_omission: int = 2
    unregistered_delivery: int = 2
    totalizer: int = 2
    misc: int = 2
    leak: int = 4
    days: int = 30
    leak_days: int = 37  # 7 days of warm-up + the 30-day horizon of the SIR target
    warmup_days: int = 7
    inventory_interval_s: int = 60
    seed: int = 1

    @classmethod
    def quick(cls, *, inventory_interval_s: int = 60, seed: int = 1) -> MatrixConfig:
        return cls(
            clean=2,
            over_registration=1,
            offbook_bypass=1,
            pos_omission=1,
            unregistered_delivery=1,
            totalizer=1,
            misc=1,
            leak=1,
            days=10,
            leak_days=10,
            warmup_days=3,
            inventory_interval_s=inventory_interval_s,
            seed=seed,
        )


@dataclass(frozen=True, slots=True)
class StationSpec:
    id: str
    group: str  # "clean" or the fraud class
    scenario: dict[str, Any]
    #: injection index -> (magnitude, unit) as the table states it, where it differs from
    #: the simulator's own parameter (hidden sales: % of throughput, not sales/day)
    nominal: dict[int, tuple[float, str]] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return int(str(self.scenario["duration"]).removesuffix("d"))

    @property
    def injections(self) -> list[dict[str, Any]]:
        return list(self.scenario.get("injections", []))


def windows(first: int, last: int, length: int, gap: int) -> list[tuple[int, int]]:
    """Day windows ``[start, start + length)`` from ``first``, ``gap`` days apart, within
    ``last``."""
    out, start = [], first
    while start + length <= last:
        out.append((start, start + length))
        start += length + gap
    return out


def _base(cfg: MatrixConfig, station: str, n: int, *, days: int) -> dict[str, Any]:
    rng = random.Random(f"{cfg.seed}:{station}")
    big, small = rng.choice([(2500, 5800), (2600, 6000)]), rng.choice([(2200, 4800), (2300, 5000)])
    tanks = []
    for tank, product in TANK_PRODUCT.items():
        d, length = small if tank == 3 else big
        tanks.append(
            {
                "tank": tank,
                "product": product,
                "diameter_mm": d,
                "length_mm": length,
                "head_depth_mm": 450 if d >= 2500 else 400,
                "initial_fill": round(rng.uniform(0.45, 0.8), 2),
            }
        )
    return {
        "station": {"id": station, "name": f"检测基准站 {station}", "district": DISTRICT},
        "seed": cfg.seed * 1000 + n,
        "start": BASE_START,
        "duration": f"{days}d",
        "products": PRODUCTS,
        "tanks": tanks,
        "dispensers": [
            {
                "dispenser": d,
                "nozzles": [
                    {"nozzle": 2 * d - 1, "tank": NOZZLE_TANK[2 * d - 1]},
                    {"nozzle": 2 * d, "tank": NOZZLE_TANK[2 * d]},
                ],
            }
            for d in range(1, 5)
        ],
        "customers": {"sales_per_day": rng.randrange(350, 701, 10), "product_mix": MIX},
        "deliveries": {"supplier": "中石化天津石油分公司"},
        "feed": {"inventory_interval": f"{cfg.inventory_interval_s}s"},
    }


def _win(start_day: float, end_day: float) -> dict[str, str]:
    return {"start": f"{round(start_day * 24)}h", "end": f"{round(end_day * 24)}h"}


def _over_registration(cfg: MatrixConfig, s: int, base: dict[str, Any]) -> StationSpec:
    nozzles = (1, 7, 2, 5)
    inj = [
        {
            "kind": "over_registration",
            "nozzle": nozzles[j % len(nozzles)],
            "percent": OVER_REGISTRATION[(s + j) % 4],
            "windows": [_win(a, b)],
        }
        for j, (a, b) in enumerate(windows(cfg.warmup_days, cfg.days, 4, 1))
    ]
    return StationSpec(base["station"]["id"], "over_registration", base | {"injections": inj})


def _bypass(cfg: MatrixConfig, s: int, base: dict[str, Any]) -> StationSpec:
    tanks, per_day = (1, 4, 2), base["customers"]["sales_per_day"]
    inj, nominal = [], {}
    for j, (a, b) in enumerate(windows(cfg.warmup_days, cfg.days, 3, 1)):
        tank, pct = tanks[j % len(tanks)], HIDDEN_SALES[(s + j) % 4]
        rate = pct / 100 * per_day * MIX[TANK_PRODUCT[tank]]  # the tank's customers a day
        inj.append(
            {
                "kind": "offbook_bypass",
                "tank": tank,
                "sales_per_day": round(rate, 3),
                "windows": [_win(a, b)],
            }
        )
        nominal[j] = (pct, "% of the tank's sales")
    return StationSpec(base["station"]["id"], "offbook_bypass", base | {"injections": inj}, nominal)


def _pos_omission(cfg: MatrixConfig, s: int, base: dict[str, Any]) -> StationSpec:
    inj, nominal = [], {}
    for j, (a, b) in enumerate(windows(cfg.warmup_days, cfg.days, 3, 1)):
        pct = HIDDEN_SALES[(s + j) % 4]
        inj.append({"kind": "pos_omission", "share": pct / 100, "windows": [_win(a, b)]})
        nominal[j] = (pct, "% of the station's sales")
    return StationSpec(base["station"]["id"], "pos_omission", base | {"injections": inj}, nominal)


def _unregistered(cfg: MatrixConfig, s: int, base: dict[str, Any]) -> StationSpec:
    tanks, inj = (1, 2, 4, 3), []
    k, hour = 0, cfg.warmup_days * 24 + 2
    while hour < cfg.days * 24 - 2:  # every 2.5 days, alternately at 02:00 and 14:00
        litres = UNREGISTERED[(s + k) % 4]
        inj.append(
            {
                "kind": "unregistered_delivery",
                "tank": tanks[k % 4],
                "litres": litres,
                "at": f"{hour}h",
            }
        )
        k, hour = k + 1, hour + 60
    return StationSpec(base["station"]["id"], "unregistered_delivery", base | {"injections": inj})


def _totalizer(cfg: MatrixConfig, s: int, base: dict[str, Any]) -> StationSpec:
    inj, k, hour = [], 0, cfg.warmup_days * 24 + 10
    while hour < cfg.days * 24 - 2:  # every 2 days, nozzles in turn
        inj.append(
            {
                "kind": "totalizer_rollback" if (s + k) % 2 else "totalizer_jump",
                "nozzle": 1 + (k + 3 * s) % 8,
                "litres": TOTALIZER[(k // 2 + s) % 3],
                "at": f"{hour}h",
            }
        )
        k, hour = k + 1, hour + 48
    return StationSpec(base["station"]["id"], "totalizer", base | {"injections": inj})


def _misc(cfg: MatrixConfig, s: int, base: dict[str, Any]) -> StationSpec:
    """The classes without a numeric target, one of each, at times that do not overlap."""
    d, w = cfg.days, cfg.warmup_days
    span = d - w  # split the injected time in five parts
    at = [w + span * i / 5 for i in range(5)]
    real = base["tanks"][2 if s % 2 == 0 else 0]
    inj: list[dict[str, Any]] = [
        {
            "kind": "declared_capacity",
            "tank": real["tank"],
            "declared_litres": 18_000 if s % 2 == 0 else 27_000,
            "gauge_table": "declared" if s % 2 == 0 else "real",
        },
        {
            "kind": "price_out_of_range",
            "product": "95" if s % 2 == 0 else "92",
            "price": 8.88 if s % 2 == 0 else 6.10,
            "windows": [_win(at[0], at[0] + 1)],
        },
        {
            "kind": "clock_skew",
            "device": "gauge" if s % 2 == 0 else "dispenser",
            "offset_seconds": 300 if s % 2 == 0 else -600,
            "windows": [_win(at[1], at[1] + 2)],
        },
        {"kind": "gateway_unplugged", "windows": [_win(at[2], at[2] + (0.25 if s % 2 else 0.1))]},
        {
            "kind": "delivery_mismatch",
            "tank": 2 if s % 2 == 0 else 4,
            "percent": -1.5 if s % 2 == 0 else 2.0,
            "windows": [_win(at[3], d)],
        },
    ]
    return StationSpec(base["station"]["id"], "misc", base | {"injections": inj})


def _leak(cfg: MatrixConfig, s: int, base: dict[str, Any]) -> StationSpec:
    days = cfg.leak_days
    inj = [
        {
            "kind": "leak",
            "tank": tank,
            "litres_per_hour": LEAK[(s + 2 * j) % 4],
            "windows": [_win(cfg.warmup_days, days)],
        }
        for j, tank in enumerate((1, 4))
    ]
    return StationSpec(base["station"]["id"], "leak", base | {"injections": inj})


GROUPS = (
    ("over_registration", "or", _over_registration),
    ("offbook_bypass", "bp", _bypass),
    ("pos_omission", "po", _pos_omission),
    ("unregistered_delivery", "ud", _unregistered),
    ("totalizer", "tz", _totalizer),
    ("misc", "mx", _misc),
    ("leak", "lk", _leak),
)


def build_matrix(cfg: MatrixConfig) -> list[StationSpec]:
    specs: list[StationSpec] = []
    n = 0
    for i in range(cfg.clean):
        n += 1
        station = f"dt-cl{i + 1:02d}"
        specs.append(StationSpec(station, "clean", _base(cfg, station, n, days=cfg.days)))
    for group, prefix, make in GROUPS:
        for s in range(getattr(cfg, group)):
            n += 1
            station = f"dt-{prefix}{s + 1:02d}"
            days = cfg.leak_days if group == "leak" else cfg.days
            specs.append(make(cfg, s, _base(cfg, station, n, days=days)))
    return specs
