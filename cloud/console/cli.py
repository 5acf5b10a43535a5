"""``fuelwatch cloud api``: the management API and the web console, one uvicorn process."""

from __future__ import annotations

import click
import uvicorn

from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.core.clitools import user_errors
from fuelwatch.core.config import settings_from_env

__all__ = ["api_command"]


@click.command("api")
@click.option("--host", help="listen address (default FUELWATCH_API_HOST or 127.0.0.1)")
@click.option("--port", type=int, help="listen port (default FUELWATCH_API_PORT or 8080)")
@click.option("--workers", default=1, show_default=True, help="uvicorn worker processes")
@user_errors
def api_command(host: str | None, port: int | None, workers: int) -> None:
    """Run the management API and the web console (settings from FUELWATCH_* variables)."""

    settings = settings_from_env(CloudSettings)
    uvicorn.run(
        "fuelwatch.cloud.console.serve:app",
        factory=False,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers,
        proxy_headers=settings.api.trust_forwarded_for,
        log_level="info",
    )
