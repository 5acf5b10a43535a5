"""Rule YAML: the shipped files load, and a broken file says which file, line, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuelwatch.cloud.common.categories import Category
from fuelwatch.cloud.rules.definition import load_definitions, parse_duration
from fuelwatch.cloud.rules.detectors import DETECTORS
from fuelwatch.core.config import ConfigError

GOOD = """\
rules:
  - id: cloud_data.test_gap
    category: cloud_data
    name: {zh: 数据中断, en: Data gap}
    schedule: 15m
    window: 6h
    detector: data_gap
    queries:
      counts: >-
        SELECT count("rid") FROM "tank_inventory" WHERE {station_filter}
        AND time > {start} AND time <= {end} GROUP BY time(5m), "station" fill(0)
    thresholds:
      max_gap_minutes: {default: 30, spec: {min: 5, max: 1440, unit: min}}
    message: {zh: "中断 {measured} 分钟", en: "gap of {measured} min"}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_rules_cover_every_category_and_detector() -> None:
    rules = load_definitions()
    assert {r.category for r in rules} == set(Category)
    assert {r.detector for r in rules} == set(DETECTORS)
    assert len({r.id for r in rules}) == len(rules)
    for r in rules:
        assert r.name.zh
        assert r.name.en
        assert r.message.zh
        assert r.message.en
        assert set(r.thresholds) == set(DETECTORS[r.detector].thresholds)


def test_a_good_file_loads(tmp_path: Path) -> None:
    [rule] = load_definitions([_write(tmp_path, GOOD)])
    assert rule.id == "cloud_data.test_gap"
    assert rule.every == parse_duration("15m")
    assert rule.defaults() == {"max_gap_minutes": 30}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("detector: data_gap", "detector: data_gaps"),
            ":7: rule cloud_data.test_gap: detector: Value error, unknown detector 'data_gaps'",
        ),
        (
            ("category: cloud_data", "category: weather"),
            ":3: rule cloud_data.test_gap: category: Input should be",
        ),
        (
            ("window: 6h", "window: six hours"),
            ":6: rule cloud_data.test_gap: window: Value error, 'six hours' is not a duration",
        ),
        (
            ("time > {start}", "time > {begin}"),
            (
                ":8: rule cloud_data.test_gap: queries: Value error,"
                " query counts: unknown placeholder {begin}"
            ),
        ),
        (("AND time <= {end} ", " "), "query counts: must bound time by {end}"),
        (
            ("max_gap_minutes: {default: 30", "max_gap: {default: 30"),
            "detector data_gap needs thresholds: max_gap_minutes",
        ),
        (
            ("spec: {min: 5", "spec: {minimum: 5"),
            ":13: rule cloud_data.test_gap: thresholds.max_gap_minutes.spec.minimum: Extra inputs",
        ),
        (
            ("id: cloud_data.test_gap", "id: Gap"),
            ":2: rule Gap: id: Value error, must be dotted lower-case words",
        ),
    ],
)
def test_errors_name_file_line_rule_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_definitions([path])
    assert f"{path}" in str(info.value)
    assert expected in str(info.value), str(info.value)


def test_duplicate_ids_and_bad_shapes(tmp_path: Path) -> None:
    one = _write(tmp_path, GOOD)
    two = tmp_path / "more.yaml"
    two.write_text(GOOD, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rule cloud_data\.test_gap: id already used in"):
        load_definitions([one, two])
    with pytest.raises(ConfigError, match="expected a mapping with a list under 'rules'"):
        load_definitions([_write(tmp_path, "- id: x\n")])
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_definitions([_write(tmp_path, "rules: [\n")])
