"""Gateway configuration: one YAML file, secrets optionally from the environment.

``FUELWATCH_MQTT_PASSWORD`` overrides ``mqtt.password`` so the password need not sit in the
file; ``mqtt.password_file`` reads it from a file (the provisioning bundle's layout).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fuelwatch.config import ConfigError, load_yaml, validate_yaml_model
from fuelwatch.mqtt import TlsSettings
from fuelwatch.wire.topics import validate_segment
from gateway.adapters.registry import DeviceConfig

__all__ = ["GatewayConfig", "MqttSettings", "SpoolSettings", "load_gateway_config"]

SEGMENT = r"^[A-Za-z0-9_-]{1,64}$"


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

    def resolved_password(self) -> str | None:
        env = os.environ.get("FUELWATCH_MQTT_PASSWORD")
        if env:
            return env
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").strip()
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
    status_interval: float = Field(default=60.0, gt=0)
    backoff_max: float = Field(default=30.0, gt=0)
    hold_no_subscribers: float = Field(
        default=5.0, gt=0, description="seconds to wait when the broker says nobody subscribes"
    )
    hold_on_reject: float = Field(
        default=60.0, gt=0, description="seconds a topic the broker refused is held back"
    )


class GatewayConfig(_Strict):
    gateway_id: str = Field(pattern=SEGMENT)
    district: str = Field(pattern=SEGMENT)
    station: str = Field(pattern=SEGMENT)
    signing_key: Path
    mqtt: MqttSettings = MqttSettings()
    spool: SpoolSettings = SpoolSettings()
    publish: PublishSettings = PublishSettings()
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
        return self.model_copy(
            update={"signing_key": fix(self.signing_key), "mqtt": mqtt, "spool": spool}
        )


def load_gateway_config(path: Path) -> GatewayConfig:
    data, node = load_yaml(path)
    config = validate_yaml_model(GatewayConfig, data, node, path)
    return config.resolve_paths(path.parent.resolve())
