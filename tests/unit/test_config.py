"""Config files: errors name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuelwatch.config import ConfigError
from gateway.settings import load_gateway_config

GOOD = """\
gateway_id: gw-1
district: binhai
station: BH0001
signing_key: signing.key
devices:
  - type: simulated_tank_gauge
    id: atg1
    tanks: 4
"""


def test_good_config_resolves_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(GOOD)
    config = load_gateway_config(path)
    assert config.signing_key == tmp_path / "signing.key"
    assert config.spool.path == tmp_path / "spool.db"
    assert config.devices[0].id == "atg1"


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (GOOD.replace("tanks: 4", "tanks: many"), 8, "devices[0]"),
        (GOOD.replace("station: BH0001", "station: BH 0001"), 3, "station"),
        (GOOD.replace("type: simulated_tank_gauge", "type: nonsense"), 6, "devices[0]"),
        (GOOD + "colour: red\n", 9, "colour"),
    ],
)
def test_errors_point_at_the_line(tmp_path: Path, text: str, line: int, field: str) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_gateway_config(path)
    message = str(err.value)
    assert f"{path}:{line}:" in message
    assert field in message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("gateway_id: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_gateway_config(path)
    assert "not valid YAML" in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_gateway_config(tmp_path / "nope.yaml")
    assert "cannot read" in str(err.value)
