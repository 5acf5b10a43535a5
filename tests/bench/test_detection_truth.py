"""The detection bench's scenario matrix and ground truth: what is tried, and how it is read."""

from __future__ import annotations

import pytest

from bench.detect.feed import department_rows, tank_bodies
from bench.detect.matrix import (
    HIDDEN_SALES,
    LEAK,
    OVER_REGISTRATION,
    UNREGISTERED,
    MatrixConfig,
    build_matrix,
)
from bench.detect.score import HOUR_MS
from bench.detect.truth import Layout, station_period, trials
from fuelwatch.cloud.api.routes.stations import TankIn
from fuelwatch.cloud.departments.rows import ROW_MODELS
from fuelwatch.sim.scenario import parse_scenario
from fuelwatch.sim.station import Station

LAYOUT = Layout({1: 1, 2: 2, 3: 1, 7: 4}, {1: "92", 2: "95", 4: "0"})


@pytest.mark.parametrize("cfg", [MatrixConfig(), MatrixConfig.quick()], ids=["full", "quick"])
def test_every_station_of_the_matrix_is_a_valid_scenario_injected_after_warm_up(
    cfg: MatrixConfig,
) -> None:
    specs = build_matrix(cfg)
    assert len({s.id for s in specs}) == len(specs)
    assert sum(s.group == "clean" for s in specs) == cfg.clean
    starts = {parse_scenario(s.scenario).start_ms for s in specs}
    assert len(starts) == 1  # one engine clock serves every station
    for spec in specs:
        sc = parse_scenario(spec.scenario)
        for inj in sc.injections:
            if inj.kind == "declared_capacity":
                continue  # a registration, true from the first day
            first = min(
                (w.start for w in getattr(inj, "windows", [])), default=getattr(inj, "at", None)
            )
            assert first is not None
            assert sc.at_ms(first) - sc.start_ms >= cfg.warmup_days * 86_400_000


def test_the_full_matrix_tries_every_magnitude_of_every_target_class() -> None:
    specs = build_matrix(MatrixConfig())
    tried: dict[str, set[float]] = {}
    for spec in specs:
        for i, inj in enumerate(spec.injections):
            value = spec.nominal.get(i, (None, ""))[0]
            for key in ("percent", "litres", "litres_per_hour"):
                value = inj.get(key, value)
            tried.setdefault(inj["kind"], set()).add(value)
    assert tried["over_registration"] == set(OVER_REGISTRATION)
    assert tried["offbook_bypass"] == set(HIDDEN_SALES)
    assert tried["pos_omission"] == set(HIDDEN_SALES)
    assert tried["leak"] == set(LEAK)
    assert tried["unregistered_delivery"] == set(UNREGISTERED)
    assert {
        "totalizer_jump",
        "totalizer_rollback",
        "delivery_mismatch",
        "declared_capacity",
    } <= set(tried)
    assert {"price_out_of_range", "clock_skew", "gateway_unplugged"} <= set(tried)
    station_months = sum(s.days for s in specs) / 30
    assert 25 <= station_months <= 40  # "tens of station-months"


def label(kind: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "kind": kind,
        "start": 10 * HOUR_MS,
        "end": 14 * HOUR_MS,
        "magnitude": 1.0,
        "unit": "%",
        "injection": 0,
        "tank": None,
        "nozzle": None,
        "product": None,
        "device": None,
        "order_ids": [],
        "effect": {},
    }
    return base | kw


def test_subjects_follow_the_nozzle_to_its_tank_and_product() -> None:
    (t,) = trials("s", [label("over_registration", nozzle=3, order_ids=["o1"])], LAYOUT, {})
    assert t.subjects == {"nozzle:3", "tank:1", "product:92"}
    (p,) = trials("s", [label("pos_omission", order_ids=["o1"])], LAYOUT, {})
    assert p.subjects == frozenset()


def test_a_period_without_effect_is_not_a_trial() -> None:
    labels = [
        label("over_registration", nozzle=1),  # nobody used the nozzle
        label("offbook_bypass", tank=4, effect={"sales": 0}),
        label("offbook_bypass", tank=4, effect={"sales": 2, "litres": 140.0}),
        label("leak", tank=1, effect={"litres": 3.0}),
    ]
    assert [t.detectable for t in trials("s", labels, LAYOUT, {})] == [False, False, True, True]


def test_hidden_sales_are_tabled_in_percent_of_what_the_tank_sold() -> None:
    hours = {4: dict.fromkeys(range(10, 14), 100.0), 1: dict.fromkeys(range(10, 14), 999.0)}
    lb = label(
        "offbook_bypass",
        tank=4,
        magnitude=1.3,
        unit="sales/day",
        effect={"sales": 1, "litres": 8.0},
    )
    (t,) = trials("s", [lb], LAYOUT, hours, nominal={0: (2.0, "% of the tank's sales")})
    assert (t.magnitude, t.unit) == (2.0, "% of the tank's sales")
    assert t.realized == pytest.approx(8.0 / 400 * 100)


def test_station_period_is_clean_until_the_first_label() -> None:
    p = station_period("s", start_ms=0, end_ms=100, labels=[label("leak", start=40)], tanks=[1])
    assert (p.clean_until_ms, p.tanks) == (40, (1,))
    clean = station_period("c", start_ms=0, end_ms=100, labels=[], tanks=[1])
    assert clean.clean_until_ms == 100


def test_registered_tanks_pass_the_api_even_with_a_false_capacity() -> None:
    spec = next(s for s in build_matrix(MatrixConfig.quick()) if s.group == "misc")
    bodies = tank_bodies(Station(parse_scenario(spec.scenario)))
    declared = next(i for i in spec.injections if i["kind"] == "declared_capacity")
    assert bodies[declared["tank"]]["capacity_l"] == declared["declared_litres"]
    for body in bodies.values():
        TankIn.model_validate(body)  # strictly increasing, within the declared capacity


def test_department_rows_declare_whole_days_of_pos_sales_and_every_waybill() -> None:
    result = {
        "station": "s1",
        "start_ms": 1_788_192_000_000,  # 2026-09-01 00:00 +08:00
        "end_ms": 1_788_192_000_000 + 2 * 86_400_000,
        "pos_days": {"2026-09-01": [100.0, 750.0, 3], "2026-09-02": [50.0, 375.0, 1]},
        "waybills": [
            {
                "waybill_id": "YD-1",
                "vehicle": "津A12345",
                "supplier": "中石化",
                "product": "92",
                "volume_20": 8000.0,
                "depart": 1_788_200_000_000,
                "arrive": 1_788_203_600_000,
            }
        ],
    }
    rows = department_rows(result)
    assert [d["period_start"] for d in rows["tax_declarations"]] == ["2026-09-01", "2026-09-02"]
    for dataset, items in rows.items():
        for row in items:
            ROW_MODELS[dataset].model_validate(row)
