"""Scenario files: the shipped examples load; mistakes are reported at their file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuelwatch.core.config import ConfigError
from fuelwatch.sim.scenario import load_scenario
from fuelwatch.sim.station import Station

EXAMPLES = sorted((Path(__file__).parents[2] / "fuelwatch" / "sim" / "scenarios").glob("*.yaml"))

GOOD = """\
station: {id: s1}
start: 2025-03-01T00:00:00+08:00
duration: 2d
products:
  "92": {kind: gasoline, tls_code: "1", price: 7.52}
tanks:
  - {tank: 1, product: "92", diameter_mm: 2500, length_mm: 5800}
  - {tank: 2, product: "92", diameter_mm: 2500, length_mm: 5800}
dispensers:
  - dispenser: 1
    nozzles:
      - {nozzle: 1, tank: 1}
      - {nozzle: 2, tank: 2}
injections:
  - {kind: leak, tank: 1, litres_per_hour: 1, windows: [{start: 1h, end: 2h}]}
  - kind: over_registration
    nozzle: 2
    percent: 2
    hours: "18:00-22:00"
    windows: [{start: 0d, end: 1d12h}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, old: str, new: str) -> list[str]:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    return info.value.problems


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path):
    scenario = load_scenario(path)
    station = Station(scenario)
    assert station.tanks
    assert station.nozzles


def test_good_file_loads(tmp_path):
    scenario = load_scenario(write(tmp_path, GOOD))
    assert scenario.duration.days == 2
    assert scenario.utc_offset_s == 8 * 3600
    assert scenario.injections[1].hours == (18 * 60, 22 * 60)


def test_unknown_nozzle_is_reported_at_its_line(tmp_path):
    found = problems(tmp_path, "    nozzle: 2\n", "    nozzle: 9\n")
    assert found == [
        # the shared loader names the union member (the kind) in the field path
        (
            f"{tmp_path / 'scenario.yaml'}:17: injections[1].over_registration.nozzle: "
            "Value error, no nozzle 9 in dispensers"
        )
    ]


def test_unknown_tank_and_product(tmp_path):
    found = problems(tmp_path, "{nozzle: 2, tank: 2}", "{nozzle: 2, tank: 7}")
    assert found == [
        (
            f"{tmp_path / 'scenario.yaml'}:13: dispensers[0].nozzles[1].tank: "
            "Value error, no tank 7 in tanks"
        )
    ]
    found = problems(tmp_path, '{tank: 2, product: "92"', '{tank: 2, product: "95"')
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'scenario.yaml'}:8: tanks[1].product: ")
    assert "no product '95'" in found[0]


def test_wrong_type_and_unknown_key(tmp_path):
    found = problems(
        tmp_path,
        "diameter_mm: 2500, length_mm: 5800}\n  - {tank: 2",
        "diameter_mm: big, length_mm: 5800}\n  - {tank: 2",
    )
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'scenario.yaml'}:7: tanks[0].diameter_mm: ")
    found = problems(tmp_path, "station: {id: s1}", "station: {id: s1, colour: red}")
    assert found == [
        f"{tmp_path / 'scenario.yaml'}:1: station.colour: Extra inputs are not permitted"
    ]


def test_window_outside_the_run(tmp_path):
    found = problems(tmp_path, "end: 1d12h", "end: 3d")
    assert len(found) == 1
    assert found[0].startswith(
        f"{tmp_path / 'scenario.yaml'}:20: injections[1].over_registration.windows[0].end: "
    )
    assert "outside the run" in found[0]


def test_bad_daily_hours(tmp_path):
    found = problems(tmp_path, '"18:00-22:00"', '"evenings"')
    assert len(found) == 1
    assert found[0].startswith(
        f"{tmp_path / 'scenario.yaml'}:19: injections[1].over_registration.hours: "
    )
    assert "HH:MM-HH:MM" in found[0]


def test_price_must_be_outside_the_permitted_range(tmp_path):
    extra = '{kind: price_out_of_range, product: "92", price: 7.6, windows: [{start: 1h, end: 2h}]}'
    text = GOOD + f"  - {extra}\n"
    with pytest.raises(ConfigError) as info:
        load_scenario(write(tmp_path, text))
    [problem] = info.value.problems
    assert problem.startswith(
        f"{tmp_path / 'scenario.yaml'}:21: injections[2].price_out_of_range: "
    )
    assert "inside the permitted range" in problem


def test_unknown_kind(tmp_path):
    found = problems(tmp_path, "kind: leak", "kind: leek")
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'scenario.yaml'}:15: injections[0]")
    assert "leek" in found[0]


def test_naive_start_and_bad_yaml(tmp_path):
    found = problems(tmp_path, "2025-03-01T00:00:00+08:00", "2025-03-01T00:00:00")
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'scenario.yaml'}:2: start: ")
    found = problems(tmp_path, "duration: 2d", "duration: [2d")
    assert len(found) == 1
    assert "not valid YAML" in found[0]
