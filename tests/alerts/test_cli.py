"""``fuelwatch cloud alerts`` refuses to start with one clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fuelwatch.cli import main


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"FUELWATCH_REGISTRY_URL": "sqlite:///{tmp}/empty.db"},
            "run `fuelwatch registry upgrade`",
        ),
        (
            {"FUELWATCH_REGISTRY_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"},
            "registry database unreachable",
        ),
        ({"FUELWATCH_ALERTS_BATCH_SIZE": "0"}, "invalid settings"),
        ({"FUELWATCH_ALERTS_WEBHOOK_RETRY__BASE": "soon"}, "FUELWATCH_ALERTS_WEBHOOK_RETRY__BASE:"),
        ({"FUELWATCH_ALERTS_MQTT_RETRY__FACTOR": "0.5"}, "FUELWATCH_ALERTS_MQTT_RETRY__FACTOR:"),
        (
            {"FUELWATCH_ALERTS_WEBHOOK_BACKOFF_MAX": "600"},
            "FUELWATCH_ALERTS_WEBHOOK_BACKOFF_MAX is now FUELWATCH_ALERTS_WEBHOOK_RETRY__CAP",
        ),
    ],
    ids=["old-schema", "no-database", "bad-batch-size", "bad-retry", "bad-factor", "renamed"],
)
def test_cannot_start_says_why(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    full = {"FUELWATCH_ENVIRONMENT": "test", "FUELWATCH_REGISTRY_URL": f"sqlite:///{tmp_path}/r.db"}
    full |= {k: v.format(tmp=tmp_path) for k, v in env.items()}
    result = CliRunner().invoke(main, ["cloud", "alerts"], env=full)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
