"""Settings of the POS push endpoint (进销存 rows the station's POS posts to the gateway)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from fuelwatch.core.devices.base import DeviceConfigBase

__all__ = ["PosPushConfig"]


class PosPushConfig(DeviceConfigBase):
    type: Literal["pos_push"]
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8710, ge=0, le=65535, description="0: any free port")
    token: SecretStr | None = Field(default=None, description="shared bearer token")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_rows: int = Field(default=2000, ge=1, le=100_000, description="rows per request")
    max_connections: int = Field(default=16, ge=1, le=1024)
    idle_timeout: float = Field(default=60.0, gt=0, description="keep-alive, seconds")
