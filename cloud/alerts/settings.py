"""Settings of the alert sender (``fuelwatch cloud alerts``): ``FUELWATCH_ALERTS_*``.

Retry sections (``fuelwatch.core.retry``) are nested: ``FUELWATCH_ALERTS_WEBHOOK_RETRY__CAP``
sets one field and keeps that loop's other defaults.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fuelwatch.cloud.common.settings import refuse_renamed
from fuelwatch.core.retry import BoundedRetrySettings, RetrySettings, defaults_from

__all__ = ["MQTT_RETRY", "WEBHOOK_RETRY", "AlertSettings"]

#: The sender's MQTT connection: waits between tries to reach the broker.
MQTT_RETRY = RetrySettings(base=1.5, factor=1.5, cap=30.0)
#: A webhook delivery's schedule (docs/alerts.md, "Retries and dead letters"): equal jitter,
#: never sooner than half the ceiling, so a receiver that is down is not hammered; dead after
#: 12 attempts or once a failure comes 24 h after the delivery was created (or requeued).
WEBHOOK_RETRY = BoundedRetrySettings(
    base=5.0, factor=2.0, cap=3600.0, jitter=0.5, max_attempts=12, deadline=24 * 3600.0
)
#: Variables of the settings the retry sections replaced: set, they stop the sender.
RENAMED = {
    "FUELWATCH_ALERTS_WEBHOOK_BACKOFF_BASE": "FUELWATCH_ALERTS_WEBHOOK_RETRY__BASE",
    "FUELWATCH_ALERTS_WEBHOOK_BACKOFF_MAX": "FUELWATCH_ALERTS_WEBHOOK_RETRY__CAP",
    "FUELWATCH_ALERTS_WEBHOOK_MAX_ATTEMPTS": "FUELWATCH_ALERTS_WEBHOOK_RETRY__MAX_ATTEMPTS",
    "FUELWATCH_ALERTS_WEBHOOK_MAX_AGE_HOURS": "FUELWATCH_ALERTS_WEBHOOK_RETRY__DEADLINE (seconds)",
    "FUELWATCH_ALERTS_MQTT_RECONNECT_MAX": "FUELWATCH_ALERTS_MQTT_RETRY__CAP",
}


class AlertSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FUELWATCH_ALERTS_", env_nested_delimiter="__", extra="ignore"
    )

    client_id: str = Field(default="fuelwatch-alerts-1", min_length=1, max_length=64)
    topic_prefix: str = Field(default="alerts/v1", pattern=r"^[A-Za-z0-9_/-]+$")
    batch_size: int = Field(default=100, ge=1, le=1000, description="outbox rows per claim")
    poll_interval: float = Field(default=0.5, gt=0, description="seconds between idle polls")
    lease_seconds: float = Field(
        default=60.0, gt=0, description="a claimed row is another sender's after this"
    )
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_concurrency: int = Field(default=8, ge=1, le=64)
    webhook_batch_size: int = Field(default=50, ge=1, le=1000)
    webhook_retry: Annotated[BoundedRetrySettings, defaults_from(WEBHOOK_RETRY)] = Field(
        default=WEBHOOK_RETRY, description="a delivery's waits between attempts, and when dead"
    )
    mqtt_retry: Annotated[RetrySettings, defaults_from(MQTT_RETRY)] = Field(
        default=MQTT_RETRY, description="waits between tries to reach the broker"
    )
    stats_interval: float = Field(default=30.0, gt=0)
    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="prune finished outbox rows and delivered deliveries older than this "
        "(hourly; None: keep everything)",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_renamed_variables(cls, data: Any) -> Any:
        refuse_renamed(os.environ, RENAMED)
        return data
