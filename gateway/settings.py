"""Gateway configuration: one YAML file, secrets optionally from the environment.

``FUELWATCH_MQTT_PASSWORD`` overrides ``mqtt.password`` so the password need not sit in the
file; ``mqtt.password_file`` reads it from a file (the provisioning bundle's layout).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fuelwatch.core.config import ConfigError, decode_utf8, load_yaml, validate_yaml_model
from fuelwatch.core.devices.catalogue import DeviceConfig
from fuelwatch.core.mqtt import TlsSettings
from fuelwatch.core.retry import RetrySettings, accept_backoff_max, defaults_from
from fuelwatch.core.wire.topics import validate_segment
from fuelwatch.gateway.sealing import BoxKey, read_secret

__all__ = ["GatewayConfig", "MqttSettings", "SpoolSettings", "load_gateway_config"]

SEGMENT = r"^[A-Za-z0-9_-]{1,64}$"
#: Waits between tries to reach the broker, and after a lost connection before the next.
PUBLISH_RETRY = RetrySettings(base=1.5, factor=1.5, cap=30.0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(_Strict):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_hostname: bool = False

    def settings(self) -> TlsSettings:
        return TlsSettings(
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
            insecure_hostname=self.insecure_hostname,
        )


class MqttSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = Field(default=None, description="defaults to the station id")
    password: str | None = None
    password_file: Path | None = None
    tls: TlsConfig | None = None
    keepalive: int = Field(default=30, ge=5, le=3600)

    def resolved_password(self, box_key: BoxKey | None = None) -> str | None:
        env = os.environ.get("FUELWATCH_MQTT_PASSWORD")
        if env:
            return env
        if self.password_file is not None:
            try:
                raw = read_secret(self.password_file, "mqtt.password", box_key)
                return decode_utf8(self.password_file, raw).strip()
            except OSError as exc:
                raise ConfigError(
                    self.password_file,
                    [f"{self.password_file}: cannot read MQTT password: {exc.strerror}"],
                ) from exc
        return self.password


class SpoolSettings(_Strict):
    path: Path = Path("spool.db")
    max_age_days: float = Field(default=30.0, gt=0)
    max_bytes: int = Field(default=2 * 1024**3, gt=0)
    synchronous: Literal["full", "normal"] = Field(
        default="full", description="full: survives power loss; normal: survives process crash"
    )


class PublishSettings(_Strict):
    max_batch_records: int = Field(default=500, ge=1, le=5000)
    max_batch_bytes: int = Field(default=256 * 1024, ge=1024, le=900 * 1024)
    max_inflight: int = Field(default=16, ge=1, le=1000)
    max_unconfirmed: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="envelopes sent and not yet confirmed by the cloud, at most (new ones wait)",
    )
    confirm_timeout: float = Field(
        default=10.0,
        gt=0,
        description="seconds without the cloud's confirmation before an envelope is resent "
        "(while the cloud confirms others)",
    )
    idle_resend: float = Field(
        default=120.0,
        gt=0,
        description="seconds after which an unconfirmed envelope is resent even if the cloud "
        "confirmed nothing meanwhile",
    )
    status_interval: float = Field(default=60.0, gt=0)
    retry: Annotated[RetrySettings, defaults_from(PUBLISH_RETRY)] = Field(
        default=PUBLISH_RETRY, description="waits between tries to reach the broker"
    )
    status_file_interval: float = Field(
        default=2.0, gt=0, description="seconds between rewrites of the local status.json"
    )
    hold_no_subscribers: float = Field(
        default=5.0, gt=0, description="seconds to wait when the broker says nobody subscribes"
    )
    hold_on_reject: float = Field(
        default=60.0, gt=0, description="seconds a topic the broker refused is held back"
    )

    @model_validator(mode="before")
    @classmethod
    def _accept_old_cap_name(cls, data: Any) -> Any:
        return accept_backoff_max(data, where="publish")


class SealingSettings(_Strict):
    """SM4 at rest (gateway/sealing.py): the box key, and whether spool rows are sealed."""

    key_file: Path
    spool: bool = Field(default=False, description="seal every spooled record's body too")

    def box_key(self) -> BoxKey:
        return BoxKey.from_file(self.key_file)


class GatewayConfig(_Strict):
    gateway_id: str = Field(pattern=SEGMENT)
    district: str = Field(pattern=SEGMENT)
    station: str = Field(pattern=SEGMENT)
    signing_key: Path
    mqtt: MqttSettings = MqttSettings()
    spool: SpoolSettings = SpoolSettings()
    publish: PublishSettings = PublishSettings()
    sealing: SealingSettings | None = None
    devices: list[DeviceConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_devices(self) -> GatewayConfig:
        seen: set[str] = set()
        for dev in self.devices:
            if dev.id in seen or dev.id == self.gateway_id:
                raise ValueError(f"device id {dev.id!r} is used twice (or equals the gateway id)")
            seen.add(dev.id)
        for value, what in ((self.district, "district"), (self.station, "station")):
            validate_segment(value, what)
        return self

    def resolve_paths(self, base: Path) -> GatewayConfig:
        """Make relative file paths relative to the config file's folder."""

        def fix(p: Path | None) -> Path | None:
            return p if p is None or p.is_absolute() else base / p

        tls = self.mqtt.tls
        if tls is not None:
            tls = tls.model_copy(
                update={
                    "ca_file": fix(tls.ca_file),
                    "cert_file": fix(tls.cert_file),
                    "key_file": fix(tls.key_file),
                }
            )
        mqtt = self.mqtt.model_copy(
            update={"tls": tls, "password_file": fix(self.mqtt.password_file)}
        )
        spool = self.spool.model_copy(update={"path": fix(self.spool.path)})
        sealing = self.sealing
        if sealing is not None:
            sealing = sealing.model_copy(update={"key_file": fix(sealing.key_file)})
        return self.model_copy(
            update={
                "signing_key": fix(self.signing_key),
                "mqtt": mqtt,
                "spool": spool,
                "sealing": sealing,
            }
        )

    def box_key(self) -> BoxKey | None:
        return self.sealing.box_key() if self.sealing is not None else None

    def signing_key_pem(self) -> bytes:
        """The signing key, opened if sealed."""
        try:
            return read_secret(self.signing_key, "signing.key", self.box_key())
        except OSError as exc:
            raise ConfigError(
                self.signing_key, [f"{self.signing_key}: cannot read: {exc.strerror}"]
            ) from exc


def load_gateway_config(path: Path) -> GatewayConfig:
    data, node = load_yaml(path)
    config = validate_yaml_model(GatewayConfig, data, node, path)
    return config.resolve_paths(path.parent.resolve())
