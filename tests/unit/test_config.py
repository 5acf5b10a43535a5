"""Config files: errors name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuelwatch.core.config import ConfigError
from fuelwatch.gateway.settings import load_gateway_config

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


def test_retry_sections_keep_the_defaults_of_their_loop(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        GOOD.replace("devices:", "publish:\n  retry: {cap: 120}\ndevices:")
        + "    poll_interval: 4\n"
        + "  - {type: simulated_dispenser, id: disp1, retry: {base: 0.5, factor: 3}}\n"
    )
    config = load_gateway_config(path)
    publish = config.publish.retry
    assert (publish.base, publish.factor, publish.cap, publish.jitter) == (1.5, 1.5, 120, 1)
    gauge, dispenser = (d.retry for d in config.devices)
    assert (gauge.base, gauge.factor, gauge.cap) == (4, 1.5, 60)  # base: the poll interval
    assert (dispenser.base, dispenser.factor, dispenser.cap) == (0.5, 3, 60)


def test_old_backoff_max_still_loads_as_retry_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        GOOD.replace("devices:", "publish:\n  backoff_max: 90\ndevices:") + "    backoff_max: 20\n"
    )
    config = load_gateway_config(path)
    assert config.publish.retry.cap == 90
    assert config.publish.retry.base == 1.5
    assert config.devices[0].retry.cap == 20
    assert config.devices[0].retry.base == 10  # the default poll interval
    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert warnings == [
        "publish: backoff_max is deprecated, write retry: {cap: 90} instead",
        "device atg1: backoff_max is deprecated, write retry: {cap: 20} instead",
    ]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (GOOD + "    backoff_max: 20\n    retry: {cap: 30}\n", 6, "give only retry.cap"),
        (
            GOOD + "    retry: {factor: 0.5}\n",
            9,
            "retry.factor: Input should be greater than or equal to 1",
        ),
        (
            GOOD + "    retry: {cap: 5, tries: 3}\n",
            9,
            "retry.tries: Extra inputs are not permitted",
        ),
        (GOOD.replace("devices:", "publish:\n  retry: {jitter: 2}\ndevices:"), 6, "jitter"),
    ],
)
def test_bad_retry_sections_point_at_the_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_gateway_config(path)
    assert f"{path}:{line}:" in str(err.value)
    assert problem in str(err.value)


def test_the_documented_reference_shows_the_defaults(tmp_path: Path) -> None:
    """docs/devices.md's gateway.yaml reference loads, and every value it shows is a default."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "devices.md").read_text()
    section = doc[doc.index("## Gateway configuration (`gateway.yaml`)") :]
    reference = section[section.index("```yaml\n") + 8 : section.index("```\n", 8)]
    (tmp_path / "reference.yaml").write_text(reference)
    (tmp_path / "minimal.yaml").write_text(
        "gateway_id: gw-BH0001\ndistrict: binhai\nstation: BH0001\nsigning_key: signing.key\n"
        "devices: [{id: atg1, type: simulated_tank_gauge}]\n"
    )
    documented = load_gateway_config(tmp_path / "reference.yaml")
    assert documented == load_gateway_config(tmp_path / "minimal.yaml")
