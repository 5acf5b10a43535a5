"""Sync settings: where Grafana is (environment) and what else to create (YAML file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fuelwatch.core.config import load_yaml_model

__all__ = ["ContactPointConfig", "GrafanaSettings", "SyncConfig", "load_sync_config"]


class GrafanaSettings(BaseSettings):
    """``FUELWATCH_GRAFANA_*``: a service account token, or an admin user and password."""

    model_config = SettingsConfigDict(env_prefix="FUELWATCH_GRAFANA_", extra="ignore")

    url: str = "http://127.0.0.1:3000"
    token: str | None = None
    user: str | None = None
    password: str | None = None
    timeout: float = Field(default=10.0, gt=0)
    sync_config: Path | None = Field(default=None, description="default of sync --config")


class ContactPointConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=190)
    url: AnyHttpUrl
    http_method: Literal["POST", "PUT"] = "POST"


class SyncConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email_domain: str = Field(
        default="", pattern=r"^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)?$", description="login@domain"
    )
    contact_points: list[ContactPointConfig] = Field(default_factory=list)


def load_sync_config(path: Path | None) -> SyncConfig:
    return SyncConfig() if path is None else load_yaml_model(SyncConfig, path)
