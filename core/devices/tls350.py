"""Settings of a Veeder-Root TLS-350 console (serial or TCP, computer format)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fuelwatch.core.devices.base import DeviceConfigBase

__all__ = ["SerialTransport", "TcpTransport", "Tls350Config", "UnitSystem"]

_PRODUCT = r"^[A-Za-z0-9#_+-]{1,16}$"


class UnitSystem(StrEnum):
    """What the console is set up to report in. Our records are always litres, mm, °C."""

    METRIC = "metric"  # litres, millimetres, degrees Celsius
    US = "us"  # US gallons, inches, degrees Fahrenheit


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TcpTransport(_Strict):
    kind: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(default=10001, ge=1, le=65535)


class SerialTransport(_Strict):
    kind: Literal["serial"]
    device: str = Field(min_length=1, description="e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=9600, gt=0)
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1


class Tls350Config(DeviceConfigBase):
    type: Literal["tls350"]
    transport: Annotated[TcpTransport | SerialTransport, Field(discriminator="kind")]
    security_code: str | None = Field(
        default=None, pattern=r"^[\x20-\x7e]{6}$", description="6 characters, if the port has one"
    )
    tanks: list[Annotated[int, Field(ge=1, le=99)]] | None = Field(
        default=None, description="tanks to report; default all that the console reports"
    )
    units: UnitSystem = Field(
        default=UnitSystem.METRIC,
        description="what the console is set up to report: metric (L, mm, °C) or us (gal, in, °F)",
    )
    timezone: str = Field(default="Asia/Shanghai", description="zone of the console's clock")
    tc_reference: Literal["20C", "15C", "60F"] = Field(
        default="20C",
        description="the temperature the console compensates TC volume to (a setup item)",
    )
    products: dict[str, Annotated[str, Field(pattern=_PRODUCT)]] = Field(
        default_factory=dict, description="console product code -> product, e.g. {'1': '92'}"
    )
    delivery_interval: float = Field(default=60.0, ge=0, description="seconds between i202 reads")
    alarm_interval: float = Field(default=30.0, ge=0, description="seconds between i205 reads")
    state_file: Path | None = Field(
        default=None, description="where reported deliveries and raised alarms are remembered"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("products")
    @classmethod
    def _one_char_codes(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            if len(code) != 1:
                raise ValueError(f"console product code {code!r} is not one character")
        return value
