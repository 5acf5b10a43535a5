"""Issue 13 #9: a config file that is not UTF-8 is a clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fuelwatch.core.config import ConfigError
from fuelwatch.gateway.settings import load_gateway_config

GBK_CONFIG = "gateway_id: gw-1\ndistrict: d1\nstation: S1\n# 滨海加油站\n".encode("gbk")


def test_loading_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_bytes(GBK_CONFIG)
    with pytest.raises(ConfigError, match=r"gateway.yaml:4: not UTF-8"):
        load_gateway_config(path)


def test_the_gateway_command_says_so_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_bytes(GBK_CONFIG)
    done = subprocess.run(
        [sys.executable, "-m", "fuelwatch.cli", "gateway", "status", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "not UTF-8" in done.stderr
