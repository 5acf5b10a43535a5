"""Profiles and device configs: the shipped ones load, broken ones say file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from fuelwatch.core.config import ConfigError
from fuelwatch.core.devices.modbus import ModbusConfig
from fuelwatch.core.devices.profile import load_profile
from fuelwatch.gateway.adapters.modbus.__main__ import main
from fuelwatch.gateway.settings import GatewayConfig, load_gateway_config
from tests.devices.modbus.conftest import PROFILES

SHIPPED = sorted(p.name for p in PROFILES.glob("*.yaml"))

GOOD = """\
version: 1
device:
  vendor: Acme
  model: ATG-1
  kind: tank_gauge
word_order: CDAB
blocks:
  - per: tank
    stride: 8
    max_count: 4
    registers:
      - {address: 40001, type: f32, field: volume, unit: L}
      - {address: 40003, type: f32, field: height, unit: mm}
      - {address: 40005, type: u16, field: product}
      - {address: 40006, type: u16, field: status}
products: {1: 92, 2: "95"}
"""
STATUS_BITS = (
    "status_bits: [{bit: 0, meaning: delivery}, {bit: 7, meaning: product_motion, active: low}]\n"
)
GOOD += STATUS_BITS


STRIDE_OVERLAP = (
    "volume (40005, f32) of tank 2 overlaps product (40005, u16) of tank 1: "
    "stride 4 is smaller than the block"
)


def test_shipped_profiles_are_at_least_three_and_load() -> None:
    assert len(SHIPPED) >= 3
    kinds = {load_profile(PROFILES / name).kind for name in SHIPPED}
    assert kinds == {"tank_gauge", "dispenser"}


def test_shipped_profiles_cover_word_orders_and_both_tables() -> None:
    orders, tables = set(), set()
    for name in SHIPPED:
        profile = load_profile(PROFILES / name)
        for block in profile.blocks:
            for reg in block.registers:
                if reg.width > 1:
                    orders.add(reg.word_order or profile.word_order)
                tables.add(reg.address.table)
    assert orders >= {"ABCD", "CDAB", "DCBA"}
    assert tables == {"holding", "input"}


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_good_profile_loads(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD))
    assert profile.products == {1: "92", 2: "95"}  # unquoted YAML numbers become codes
    assert str(profile.blocks[0].registers[0].address) == "40001"


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert info.value.path == path
    return info.value.problems


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        # a type that does not exist
        (
            "type: f32, field: height",
            "type: float, field: height",
            ":13: blocks[0].registers[1].type",
            "Input should be 'u16', 'i16'",
        ),
        # a field our record model does not have
        (
            "field: status}",
            "field: pressure}",
            ":15: blocks[0].registers[3].field",
            "unknown field 'pressure'",
        ),
        # a key the schema does not know
        (
            "    stride: 8\n",
            "    stride: 8\n    strid: 8\n",
            ":10: blocks[0].strid",
            "Extra inputs are not permitted",
        ),
        # two registers sharing a word
        (
            "address: 40003, type: f32",
            "address: 40002, type: f32",
            ":13: blocks[0].registers[1].address",
            "height (40002, f32) of tank 1 overlaps volume (40001, f32) of tank 1",
        ),
        # a stride smaller than the block: tank 2 lands on tank 1
        (
            "stride: 8",
            "stride: 4",
            ":12: blocks[0].registers[0].address",
            STRIDE_OVERLAP,
        ),
        # a missing required key
        ("  model: ATG-1\n", "", ":2: device.model", "Field required"),
        # a unit of the wrong kind
        (
            "field: height, unit: mm",
            "field: height, unit: gal",
            ":13: blocks[0].registers[1].unit",
            "'gal' is not a length unit",
        ),
        # an address that is not a register number
        (
            "address: 40005,",
            "address: 10005,",
            ":14: blocks[0].registers[2].address",
            "10005 is not a register number",
        ),
        # a required field not mapped at all
        (
            "      - {address: 40003, type: f32, field: height, unit: mm}\n",
            "",
            ":7: blocks",
            "must map field height",
        ),
        # product register but no table
        ('products: {1: 92, 2: "95"}\n', "", ":1: products", "needs a `products` table"),
        # a status register whose bits nobody declared (vendors differ, even in polarity)
        (
            STATUS_BITS,
            "",
            ":1: status_bits",
            "needs `status_bits`",
        ),
        # a dispenser field in a tank gauge
        (
            "field: status}",
            "field: last.seq}",
            ":15: blocks[0].registers[3].field",
            "last.seq is not a tank_gauge field",
        ),
        # counters take no scale
        (
            "type: u16, field: status}",
            "type: u16, field: status, scale: 0.1}",
            ":15: blocks[0].registers[3].scale",
            "status takes no scale",
        ),
        ("word_order: CDAB", "word_order: ACBD", ":6: word_order", "Input should be 'ABCD'"),
    ],
)
def test_broken_profiles_name_file_line_and_field(
    tmp_path: Path, old: str, new: str, where: str, message: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    found = problems(path)
    assert any(p.startswith(f"{path}{where}: ") and message in p for p in found), found


def test_not_yaml_at_all(tmp_path: Path) -> None:
    path = write(tmp_path, "device: {vendor: [unclosed\n")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:2: not valid YAML")


def test_a_missing_profile_file(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path / "nope.yaml")
    assert "cannot read" in problem


def device(profile: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "atg1",
        "type": "modbus",
        "profile": profile,
        "transport": {"kind": "tcp", "host": "10.0.0.5"},
        **extra,
    }


def test_config_defaults_and_profile_dir() -> None:
    cfg = ModbusConfig.model_validate(
        device("pneumercator_tms3000.yaml", tanks=2, products={1: 92, 2: "0"})
    )
    assert cfg.profile_path.resolve() == PROFILES / "pneumercator_tms3000.yaml"
    assert cfg.loaded_profile.device.vendor == "Pneumercator"
    assert cfg.station_numbers == [1, 2]
    assert cfg.products == {1: "92", 2: "0"}
    assert cfg.transport.port == 502  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"tanks": 2}, "has no product register: give `products` for tanks 1, 2"),
        ({"tanks": 13, "products": {}}, "has room for 12 tanks, not 13"),
        ({"nozzles": 2}, "is a tank_gauge: give `tanks` (only)"),
        ({"tanks": 2, "numbers": [1, 1], "products": {1: "92"}}, "needs 2 different numbers"),
        ({"tanks": 1, "unit_id": 300, "products": {1: "92"}}, "less than or equal to 247"),
    ],
)
def test_config_that_does_not_fit_the_profile(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        ModbusConfig.model_validate(device("pneumercator_tms3000.yaml", **extra))
    assert message in str(info.value)


def test_gateway_config_selects_the_modbus_adapter(tmp_path: Path) -> None:
    config = GatewayConfig.model_validate(
        {
            "gateway_id": "gw1",
            "district": "d1",
            "station": "s1",
            "signing_key": "k.pem",
            "devices": [
                device(
                    "taxcontrol_dispenser_collector.yaml",
                    id="disp1",
                    nozzles=4,
                    transport={
                        "kind": "rtu",
                        "device": "/dev/ttyUSB0",
                        "baudrate": 19200,
                        "parity": "E",
                    },
                )
            ],
        }
    )
    (dev,) = config.devices
    assert isinstance(dev, ModbusConfig)
    assert str(dev.transport) == "/dev/ttyUSB0 19200 8E1"


def test_gateway_config_with_a_broken_profile_names_both_files(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("type: f32, field: height", "type: f33, field: height"))
    gw = tmp_path / "gateway.yaml"
    gw.write_text(
        yaml.safe_dump(
            {
                "gateway_id": "gw1",
                "district": "d1",
                "station": "s1",
                "signing_key": "k.pem",
                "devices": [device(bad.name, profile_dir=str(tmp_path), tanks=1)],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_gateway_config(gw)
    text = str(info.value)
    assert f"{gw}:" in text
    assert f"{bad}:13: blocks[0].registers[1].type" in text


def test_profile_checker_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(PROFILES / name) for name in SHIPPED]) == 0
    out = capsys.readouterr().out
    assert "pneumercator_tms3000.yaml: ok: Pneumercator" in out
    assert "12 tanks in 2 reads: holding 40002-40125 (124 registers)" in out
    bad = write(tmp_path, GOOD.replace("field: status}", "field: pressure}"))
    assert main([str(bad)]) == 1
    assert f"{bad}:15: blocks[0].registers[3].field" in capsys.readouterr().err


def test_profiles_in_the_docs_load(tmp_path: Path) -> None:
    """The YAML examples in docs/devices.md are profiles that load."""
    doc = (PROFILES.parent / "docs" / "devices.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Modbus devices and profiles") :]
    blocks = [b.split("```", 1)[0] for b in section.split("```yaml\n")[1:]]
    profiles = [b for b in blocks if b.startswith("version: 1")]
    assert len(profiles) == 2
    for i, text in enumerate(profiles):
        load_profile(write(tmp_path, text, f"doc{i}.yaml"))
