"""Settings of the alert sender (``fuelwatch cloud alerts``): ``FUELWATCH_ALERTS_*``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AlertSettings"]


class AlertSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FUELWATCH_ALERTS_", extra="ignore")

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
    webhook_backoff_base: float = Field(
        default=5.0, gt=0, description="seconds before the 2nd attempt (doubles after)"
    )
    webhook_backoff_max: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=12, ge=1)
    webhook_max_age_hours: float = Field(
        default=24.0, gt=0, description="a delivery older than this is dead after a failure"
    )
    mqtt_reconnect_max: float = Field(default=30.0, gt=0)
    stats_interval: float = Field(default=30.0, gt=0)
    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="prune finished outbox rows and delivered deliveries older than this "
        "(hourly; None: keep everything)",
    )
