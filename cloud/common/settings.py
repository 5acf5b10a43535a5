"""Cloud service settings from the environment (``FUELWATCH_*``) or a ``.env`` file.

Local defaults point at the demo stack under ``./.fuelwatch``; outside ``environment=local``
the default secrets are refused, and ``environment=production`` refuses placeholder, short or
guessable secrets (``cloud/common/secrets.py``), so a deployment cannot start with them.

Retry sections (``fuelwatch.core.retry``) are nested: ``FUELWATCH_INGEST_MQTT_RETRY__CAP=60``
sets one field and keeps that loop's other defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fuelwatch.cloud.common.netguard import IpNetwork, parse_networks
from fuelwatch.cloud.common.secrets import SecretRule, secret_problems
from fuelwatch.core.mqtt import TlsSettings
from fuelwatch.core.retry import RetrySettings, defaults_from
from fuelwatch.core.wire.accounts import AccountKind, validate_platform_account

__all__ = [
    "INGEST_INFLUX_RETRY",
    "INGEST_MQTT_RETRY",
    "STREAMING_REGISTRY_RETRY",
    "ApiSettings",
    "CloudSettings",
    "MqttEndpoint",
    "production_secret_problems",
    "refuse_renamed",
]

#: Ingest's subscription: waits between tries to reach the broker, and after a lost connection.
INGEST_MQTT_RETRY = RetrySettings(base=1.5, factor=1.5, cap=30.0)
#: InfluxDB at ingest's start and while a write is held (the broker keeps the rest meanwhile).
INGEST_INFLUX_RETRY = RetrySettings(base=0.5, factor=1.5, cap=10.0)
#: The registry when the streaming checker starts.
STREAMING_REGISTRY_RETRY = RetrySettings(base=2.0, factor=2.0, cap=30.0)


def refuse_renamed(environ: Mapping[str, str], renamed: Mapping[str, str]) -> None:
    """A setting whose variable was renamed must not be ignored in silence: refuse to start."""
    present = {name.upper() for name in environ}
    old = [f"{name} is now {new}" for name, new in renamed.items() if name in present]
    if old:
        raise ValueError("renamed settings: " + "; ".join(old))


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

    @field_validator("username")
    @classmethod
    def _service_namespace(cls, value: str) -> str:
        # Outside the station namespace, so no station can ever be provisioned under it.
        return validate_platform_account(value, AccountKind.SERVICE)

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
    max_json_bytes: int = Field(
        default=4 * 1024 * 1024,
        gt=0,
        description="largest request body that is not a file upload (JSON, forms); 413 above",
    )
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
    bundle_mqtt_tls_port: int | None = Field(
        default=None, ge=1, le=65535, description="TLS listener with client certificates"
    )
    bundle_mqtt_tls_password_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="TLS listener for password stations (credential tls_password, the default)",
    )
    ca_cert_file: Path | None = Field(
        default=None, description="project CA certificate for gateway client certificates"
    )
    ca_key_file: Path | None = None
    client_cert_days: int = Field(default=825, ge=1, le=3650)


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FUELWATCH_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

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
    ingest_mqtt_retry: Annotated[RetrySettings, defaults_from(INGEST_MQTT_RETRY)] = Field(
        default=INGEST_MQTT_RETRY, description="waits between tries to subscribe"
    )
    ingest_influx_retry: Annotated[RetrySettings, defaults_from(INGEST_INFLUX_RETRY)] = Field(
        default=INGEST_INFLUX_RETRY, description="waits for InfluxDB (start, held writes)"
    )
    ingest_future_skew: float = Field(
        default=3600.0,
        gt=0,
        description="seconds a record's time or an envelope's sent time may be ahead of "
        "ingest's clock; beyond that it is refused as implausible",
    )
    ingest_before_registration_days: float = Field(
        default=30.0,
        ge=0,
        description="days a record's ts may be older than its gateway's registration (device "
        "history read at the first poll); older is refused as implausible",
    )
    ingest_evidence_rate: float = Field(
        default=5.0, gt=0, description="rejection rows per second per station, on average"
    )
    ingest_evidence_burst: float = Field(
        default=50.0, ge=1, description="rejection rows a station may use up at once"
    )
    ingest_bad_signature_rate: float = Field(
        default=5.0, gt=0, description="bad signatures per second per station before shedding"
    )
    ingest_bad_signature_burst: float = Field(default=50.0, ge=1)
    ingest_gap_grace: float = Field(
        default=2.0,
        gt=0,
        description="seconds a sequence gap stays open before the gateway is asked to resend",
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
    streaming_registry_retry: Annotated[RetrySettings, defaults_from(STREAMING_REGISTRY_RETRY)] = (
        Field(default=STREAMING_REGISTRY_RETRY, description="waits for the registry at start")
    )
    rules_hold_seconds: int = Field(
        default=900,
        ge=0,
        le=86_400,
        description="the rule engine applies a reading only this long after it (a sale is "
        "reported at the hang): shorter judges sooner, at the risk of a sale arriving late",
    )
    influx_aggregates: bool = Field(
        default=True,
        description="create the aggregate retention policy and continuous queries at start",
    )
    webhook_allow_networks: list[str] = Field(
        default_factory=list,
        description="networks (CIDR) webhook receivers may be in although not public, e.g. an "
        "internal receiver; everything else non-global is refused (cloud/common/netguard.py)",
    )
    influx_aggregates_refresh_interval: float = Field(
        default=600.0,
        gt=0,
        description="seconds between recomputing aggregates of days that received late data",
    )

    @field_validator("webhook_allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    def webhook_allow(self) -> tuple[IpNetwork, ...]:
        return parse_networks(self.webhook_allow_networks)

    @model_validator(mode="after")
    def _no_default_secrets(self) -> CloudSettings:
        if self.environment not in ("local", "test") and self.api.jwt_secret == DEFAULT_JWT_SECRET:
            raise ValueError("FUELWATCH_API_JWT_SECRET must be set outside local/test")
        if self.environment == "production":
            problems = production_secret_problems(self)
            if problems:
                raise ValueError("production refuses weak secrets:\n  " + "\n  ".join(problems))
        return self


def production_secret_problems(settings: CloudSettings) -> list[str]:
    """Every secret a production deployment sets, each checked (nothing is echoed)."""
    checks: list[tuple[str | None, SecretRule]] = [
        (settings.api.jwt_secret, SecretRule("FUELWATCH_API_JWT_SECRET", 32, 128)),
        (settings.mqtt.password, SecretRule("FUELWATCH_MQTT_PASSWORD", 16, 80)),
        (settings.influx_password, SecretRule("FUELWATCH_INFLUX_PASSWORD", 12, 60)),
        (
            urlsplit(settings.registry_url).password,
            SecretRule("the password in FUELWATCH_REGISTRY_URL", 12, 60),
        ),
    ]
    problems: list[str] = []
    for value, rule in checks:
        if value is not None:  # a URL without a password (peer or certificate auth) is fine
            problems += secret_problems(value, rule)
    return problems
