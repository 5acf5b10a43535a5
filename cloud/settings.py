"""Cloud service settings from the environment (``FUELWATCH_*``) or a ``.env`` file.

Local defaults point at the demo stack under ``./.fuelwatch``; outside ``environment=local``
the default secrets are refused, so a deployment cannot start with them by accident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fuelwatch.mqtt import TlsSettings

__all__ = ["ApiSettings", "CloudSettings", "MqttEndpoint"]

DEFAULT_CLOUD_PASSWORD = "fuelwatch-local-cloud"  # noqa: S105 - local demo only, refused elsewhere
DEFAULT_JWT_SECRET = "fuelwatch-local-jwt-secret-change-me-0123456789"  # noqa: S105 - as above


class MqttEndpoint(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FUELWATCH_MQTT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "fuelwatch-cloud"
    password: str = DEFAULT_CLOUD_PASSWORD
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def tls(self) -> TlsSettings | None:
        if self.ca_file is None:
            return None
        return TlsSettings(ca_file=self.ca_file, cert_file=self.cert_file, key_file=self.key_file)


class ApiSettings(BaseSettings):
    """The management API (``fuelwatch cloud api``): ``FUELWATCH_API_*``."""

    model_config = SettingsConfigDict(env_prefix="FUELWATCH_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    jwt_secret: str = Field(default=DEFAULT_JWT_SECRET, min_length=32)
    access_token_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    refresh_token_hours: float = Field(default=12.0, gt=0, le=30 * 24)
    lockout_threshold: int = Field(
        default=5, ge=1, description="failed logins in a row before the account is locked"
    )
    lockout_minutes: float = Field(default=15.0, gt=0)
    trust_forwarded_for: bool = Field(
        default=False, description="take the client address from X-Forwarded-For (behind a proxy)"
    )
    attachments_dir: Path = Path(".fuelwatch/attachments")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    # Provisioning: where the broker's accounts live and how gateways reach it.
    mqtt_password_file: Path | None = Field(
        default=None, description="Mosquitto password file that provisioning adds stations to"
    )
    broker_pid_file: Path | None = Field(
        default=None,
        description="Mosquitto's PID file; sent SIGHUP after the password file changes",
    )
    bundle_mqtt_host: str = "127.0.0.1"
    bundle_mqtt_port: int = Field(default=1883, ge=1, le=65535)
    bundle_mqtt_tls_port: int | None = Field(default=None, ge=1, le=65535)
    ca_cert_file: Path | None = Field(
        default=None, description="project CA certificate for gateway client certificates"
    )
    ca_key_file: Path | None = None
    client_cert_days: int = Field(default=825, ge=1, le=3650)


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FUELWATCH_", env_file=".env", extra="ignore")

    environment: Literal["local", "test", "production"] = "local"
    state_dir: Path = Path(".fuelwatch")
    registry_url: str = "sqlite:///.fuelwatch/registry.db"
    influx_url: str = "http://127.0.0.1:8086"
    influx_db: str = "fuelwatch"
    influx_username: str | None = None
    influx_password: str | None = None
    mqtt: MqttEndpoint = Field(default_factory=MqttEndpoint)
    api: ApiSettings = Field(default_factory=ApiSettings)

    ingest_group: str = Field(default="ingest", description="shared subscription group")
    ingest_district: str = Field(
        default="+",
        pattern=r"^(\+|[A-Za-z0-9_-]{1,64})$",
        description="district this worker takes (+ = all)",
    )
    ingest_client_id: str = "fuelwatch-ingest-1"
    ingest_receive_maximum: int = Field(
        default=2000,
        ge=1,
        le=65535,
        description="unacknowledged messages the broker may hand one worker (memory bound)",
    )
    ingest_flush_interval: float = Field(default=0.05, gt=0)
    ingest_flush_messages: int = Field(
        default=200, ge=1, description="flush early once this many messages are waiting"
    )
    ingest_parallel_flushes: int = Field(
        default=2, ge=1, le=8, description="flushes in progress at once (CPU/IO overlap)"
    )
    ingest_stats_interval: float = Field(default=10.0, gt=0)
    ingest_max_sent_age_days: float = Field(
        default=45.0, gt=0, description="older envelopes are rejected as stale"
    )
    ingest_ops_host: str = "127.0.0.1"
    ingest_ops_port: int | None = Field(
        default=None, ge=0, le=65535, description="serve /health and /metrics here (None: off)"
    )
    ingest_session_expiry: int = Field(
        default=7 * 86_400,
        ge=0,
        description="seconds the broker keeps an ingest worker's queue while it is away",
    )
    streaming_enabled: bool = Field(
        default=True, description="run the streaming checks (cloud_data warnings) in ingest"
    )
    streaming_queue_size: int = Field(
        default=10_000, ge=1, description="events waiting for the streaming checker, at most"
    )
    streaming_interval: float = Field(
        default=2.0, gt=0, description="seconds between streaming checker rounds"
    )
    influx_aggregates: bool = Field(
        default=True,
        description="create the aggregate retention policy and continuous queries at start",
    )
    influx_aggregates_refresh_interval: float = Field(
        default=600.0,
        gt=0,
        description="seconds between recomputing aggregates of days that received late data",
    )

    @model_validator(mode="after")
    def _no_default_secrets(self) -> CloudSettings:
        if self.environment == "production" and self.mqtt.password == DEFAULT_CLOUD_PASSWORD:
            raise ValueError("FUELWATCH_MQTT_PASSWORD must be set outside local/test")
        if self.environment not in ("local", "test") and self.api.jwt_secret == DEFAULT_JWT_SECRET:
            raise ValueError("FUELWATCH_API_JWT_SECRET must be set outside local/test")
        return self
