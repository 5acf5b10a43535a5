"""Settings every device has, whatever its protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fuelwatch.core.retry import RetrySettings, accept_backoff_max, defaults_from

__all__ = ["DEVICE_RETRY", "DeviceConfigBase"]

DEFAULT_POLL_INTERVAL = 10.0
#: A device that stops answering is asked again after a wait of up to ``retry.base`` (by
#: default its own poll interval, so a slow gauge is not pestered), 1.5 times longer after each
#: failure, at most a minute.
DEVICE_RETRY = RetrySettings(base=DEFAULT_POLL_INTERVAL, factor=1.5, cap=60.0)


class DeviceConfigBase(BaseModel):
    """Settings every device has; adapters subclass with ``type: Literal[...]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="device id, a topic segment")
    poll_interval: float = Field(
        default=DEFAULT_POLL_INTERVAL, gt=0, description="seconds between polls"
    )
    timeout: float = Field(default=3.0, gt=0, description="seconds to wait for a reply")
    retry: Annotated[RetrySettings, defaults_from(DEVICE_RETRY)] = Field(
        default=DEVICE_RETRY,
        description="waits after a failed poll (docs/devices.md); base defaults to poll_interval",
    )

    @model_validator(mode="before")
    @classmethod
    def _retry_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = accept_backoff_max(data, where=f"device {data.get('id', '?')}")
        retry = data.get("retry") or {}
        poll = data.get("poll_interval", DEFAULT_POLL_INTERVAL)
        valid_poll = isinstance(poll, int | float) and poll > 0  # else poll_interval's error
        if isinstance(retry, Mapping) and "base" not in retry and valid_poll:
            data = {**data, "retry": {"base": poll, **retry}}
        return data
