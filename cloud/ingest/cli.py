"""``fuelwatch cloud ingest``: one ingest worker."""

from __future__ import annotations

import asyncio

import click

from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.ingest.app import run_ingest
from fuelwatch.core.clitools import user_errors
from fuelwatch.core.config import settings_from_env

__all__ = ["ingest"]


@click.command("ingest")
@click.option("--client-id", help="MQTT client id of this worker (unique per worker)")
@user_errors
def ingest(client_id: str | None) -> None:
    """Run one ingest worker (settings from FUELWATCH_* environment variables)."""
    settings = settings_from_env(CloudSettings)
    if client_id:
        settings = settings.model_copy(update={"ingest_client_id": client_id})
    asyncio.run(run_ingest(settings))
