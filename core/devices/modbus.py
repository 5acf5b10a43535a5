"""Gateway config of one Modbus device: where it is, which profile, how many tanks/nozzles.

The profile is loaded while the gateway config is validated, so a broken profile or a config
that does not fit it (7 tanks on a 4-tank map, a tank without a product) stops the gateway at
start-up with the profile's own file:line messages, not at the first poll.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from fuelwatch.core.config import ConfigError
from fuelwatch.core.devices.base import DeviceConfigBase
from fuelwatch.core.devices.profile import ProductCode, Profile, load_profile

__all__ = ["DEFAULT_PROFILE_DIR", "ModbusConfig", "RtuTransport", "TcpTransport"]

#: ``firmware_configs/``, linked into the package (``fuelwatch/firmware_configs``).
DEFAULT_PROFILE_DIR = Path(__file__).parents[2] / "firmware_configs"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TcpTransport(_Strict):
    kind: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class RtuTransport(_Strict):
    kind: Literal["rtu"]
    device: str = Field(min_length=1, description="serial device, e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=9600, ge=300, le=921_600)
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1

    def __str__(self) -> str:
        return f"{self.device} {self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


class ModbusConfig(DeviceConfigBase):
    """A Modbus RTU or TCP tank gauge or dispenser described by a profile."""

    type: Literal["modbus"]
    profile: Path = Field(description="profile file; relative paths are under profile_dir")
    profile_dir: Path = DEFAULT_PROFILE_DIR
    transport: Annotated[TcpTransport | RtuTransport, Field(discriminator="kind")]
    unit_id: int = Field(default=1, ge=0, le=247, description="Modbus unit (slave) id")
    tanks: int | None = Field(default=None, ge=1, le=99, description="for a tank gauge")
    nozzles: int | None = Field(default=None, ge=1, le=999, description="for a dispenser")
    numbers: list[int] | None = Field(
        default=None,
        description="station tank/nozzle number of the device's 1st, 2nd... (default 1, 2...)",
    )
    products: dict[int, ProductCode] = Field(
        default_factory=dict,
        description="product per station tank/nozzle number, where the profile has no product "
        "register",
    )
    product_codes: dict[int, ProductCode] = Field(
        default_factory=dict, description="additions to the profile's products table"
    )
    totalizer_interval: float = Field(default=60.0, gt=0, description="seconds, dispensers")
    retries: int = Field(default=1, ge=0, le=5, description="re-sends of an unanswered request")
    state_file: Path | None = Field(
        default=None,
        description="where transaction counters and raised alarms are remembered across restarts",
    )

    _profile: Profile | None = PrivateAttr(default=None)

    @property
    def profile_path(self) -> Path:
        return self.profile if self.profile.is_absolute() else self.profile_dir / self.profile

    @property
    def loaded_profile(self) -> Profile:
        assert self._profile is not None  # set by validation
        return self._profile

    @property
    def count(self) -> int:
        """How many tanks or nozzles the device reports."""
        count = self.tanks if self.loaded_profile.kind == "tank_gauge" else self.nozzles
        assert count is not None  # checked by validation
        return count

    @property
    def station_numbers(self) -> list[int]:
        return self.numbers or list(range(1, self.count + 1))

    @model_validator(mode="after")
    def _fits_profile(self) -> ModbusConfig:
        try:
            profile = load_profile(self.profile_path)
        except ConfigError as exc:
            raise ValueError(
                f"profile {self.profile_path} is not usable:\n" + "\n".join(exc.problems)
            ) from exc
        kind = profile.kind
        what, count, other = (
            ("tanks", self.tanks, self.nozzles)
            if kind == "tank_gauge"
            else ("nozzles", self.nozzles, self.tanks)
        )
        if count is None or other is not None:
            raise ValueError(f"{self.profile_path.name} is a {kind}: give `{what}` (only)")
        if count > profile.max_instances():
            raise ValueError(
                f"{self.profile_path.name} has room for {profile.max_instances()} {what}, "
                f"not {count}"
            )
        numbers = self.numbers or list(range(1, count + 1))
        if len(numbers) != count or len(set(numbers)) != count:
            raise ValueError(f"`numbers` needs {count} different numbers, one per {what[:-1]}")
        if kind == "tank_gauge" and not all(1 <= n <= 99 for n in numbers):
            raise ValueError("tank numbers go from 1 to 99")
        if kind == "dispenser" and not all(1 <= n <= 999 for n in numbers):
            raise ValueError("nozzle numbers go from 1 to 999")
        if profile.register("product") is None:
            missing = [n for n in numbers if n not in self.products]
            if missing:
                raise ValueError(
                    f"{self.profile_path.name} has no product register: give `products` for "
                    f"{what} {', '.join(map(str, missing))} (e.g. products: {{1: '92'}})"
                )
        self._profile = profile
        return self
