"""``fuelwatch cloud ...``: the cloud's long-running services and its setup commands.

Each service is imported only when it starts, so one service's process never loads another's
code (docs/architecture.md).
"""

from __future__ import annotations

import click

from fuelwatch.core.clitools import Lazy, LazyGroup

__all__ = ["cloud"]

SERVICES = {
    "ingest": Lazy("fuelwatch.cloud.ingest.cli:ingest", "Run one ingest worker."),
    "rules": Lazy("fuelwatch.cloud.rules.cli:rules", "Run the rule engine (or --once)."),
    "alerts": Lazy("fuelwatch.cloud.alerts.cli:alerts", "Push warning events (MQTT, webhooks)."),
    "api": Lazy(
        "fuelwatch.cloud.console.cli:api_command", "Run the management API and the web console."
    ),
    "create-user": Lazy("fuelwatch.cloud.api.cli:create_user_command", "Create a user account."),
    "set-password": Lazy(
        "fuelwatch.cloud.api.cli:set_password_command",
        "Set a user's password and lift a lock (how administrators' accounts are kept).",
    ),
    "influx-setup": Lazy(
        "fuelwatch.cloud.store.cli:influx_setup_command",
        "Create the aggregates retention policy and continuous queries.",
    ),
}


@click.group(cls=LazyGroup, lazy=SERVICES)
def cloud() -> None:
    """Cloud services."""
