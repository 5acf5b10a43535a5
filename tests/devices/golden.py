"""Golden frames (``tests/data/frames/``): one folder per case, the bytes and what they mean.

Both sides are tested against the same folders: the gateway's codec must decode each frame to
the expected values (or refuse it with the expected error), and the simulator's own encoder
must produce exactly the frame's bytes from those values. See tests/data/frames/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

FRAMES = Path(__file__).resolve().parents[1] / "data" / "frames"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


@dataclass(frozen=True)
class Tls350Case:
    name: str
    reply: bytes  # exactly as on the wire
    command: str  # what was asked, after <SOH>: "i20100"
    expect: dict[str, Any]  # time + tanks, time + data, or error + message
    console: dict[str, Any]  # units, timezone
    simulator: dict[str, Any]  # how the simulated console produces these bytes, if not by values
    not_simulated: str | None  # why the simulator never sends these bytes
    spec: dict[str, Any]

    @property
    def function(self) -> str:
        return self.command[1:4]

    @property
    def tank(self) -> int:
        return int(self.command[4:6])

    @property
    def is_error(self) -> bool:
        return "error" in self.expect

    @property
    def time(self) -> datetime:
        return parse_minute(self.expect["time"])

    def __str__(self) -> str:
        return self.name


def parse_minute(text: str) -> datetime:
    """``"2025-11-23 20:13"`` -> a naive datetime, the console's local clock."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M")  # noqa: DTZ007 - a console clock is naive


def tls350_cases() -> list[Tls350Case]:
    out = []
    for folder in sorted((FRAMES / "tls350").iterdir()):
        spec = _load(folder / "case.yaml")
        out.append(
            Tls350Case(
                name=folder.name,
                reply=(folder / "reply.bin").read_bytes(),
                command=spec["command"],
                expect=spec["expect"],
                console=spec.get("console", {}),
                simulator=spec.get("simulator", {}),
                not_simulated=spec.get("not_simulated"),
                spec=spec,
            )
        )
    return out


def tls350_case(name: str) -> Tls350Case:
    (case,) = [c for c in tls350_cases() if c.name == name]
    return case


@dataclass(frozen=True)
class ModbusCase:
    name: str
    profile: Path
    count: int
    values: dict[int, dict[str, int | float]]  # per instance, in our units
    registers: dict[int | str, int]  # Modicon address -> word on the wire

    def __str__(self) -> str:
        return self.name


def modbus_cases() -> list[ModbusCase]:
    firmware = FRAMES.parents[2] / "firmware_configs"
    out = []
    for folder in sorted((FRAMES / "modbus").iterdir()):
        spec = _load(folder / "case.yaml")
        local = folder / spec["profile"]
        out.append(
            ModbusCase(
                name=folder.name,
                profile=local if local.exists() else firmware / spec["profile"],
                count=spec["count"],
                values=spec["values"],
                registers=spec["registers"],
            )
        )
    return out


def params(cases: list[Any]) -> list[Any]:
    return [pytest.param(c, id=c.name) for c in cases]
