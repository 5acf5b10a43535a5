"""``fuelwatch cloud alerts``: the alert sender."""

from __future__ import annotations

import asyncio

import click

from fuelwatch.cloud.alerts.app import run_alerts
from fuelwatch.cloud.alerts.settings import AlertSettings
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.core.clitools import user_errors
from fuelwatch.core.config import settings_from_env

__all__ = ["alerts"]


@click.command("alerts")
@click.option("--client-id", help="MQTT client id and lease owner of this sender (unique each)")
@user_errors
def alerts(client_id: str | None) -> None:
    """Push warning events: MQTT alerts, InfluxDB points, signed webhooks (docs/alerts.md)."""
    settings = settings_from_env(CloudSettings)
    alert_settings = settings_from_env(AlertSettings)
    if client_id:
        alert_settings = alert_settings.model_copy(update={"client_id": client_id})
    asyncio.run(run_alerts(settings, alert_settings))
