"""A bad FUELWATCH_* variable stops a service with one line naming it, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["cloud", "api"], {"FUELWATCH_API_PORT": "abc"}, "FUELWATCH_API_PORT"),
        (
            ["cloud", "ingest"],
            {"FUELWATCH_INGEST_MQTT_RETRY__CAP": "-1"},
            "FUELWATCH_INGEST_MQTT_RETRY__CAP",
        ),
        (["cloud", "rules", "--once"], {"FUELWATCH_MQTT_PORT": "x"}, "FUELWATCH_MQTT_PORT"),
        (
            ["cloud", "alerts"],
            {"FUELWATCH_ALERTS_WEBHOOK_RETRY__CAP": "soon"},
            "FUELWATCH_ALERTS_WEBHOOK_RETRY__CAP",
        ),
    ],
)
def test_bad_variable_is_named_without_a_traceback(
    argv: list[str], env: dict[str, str], named: str, tmp_path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fuelwatch.cli", *argv],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert named in done.stderr
    assert "Traceback" not in done.stderr
