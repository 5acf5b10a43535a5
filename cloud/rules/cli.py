"""``fuelwatch cloud rules``: the rule engine, continuous or once."""

from __future__ import annotations

import asyncio

import click

from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.rules.runner import parse_at, run_forever, run_once
from fuelwatch.core.clitools import UserError, user_errors
from fuelwatch.core.config import settings_from_env

__all__ = ["rules"]


@click.command("rules")
@click.option("--once", is_flag=True, help="evaluate every enabled rule once and exit")
@click.option(
    "--at",
    "at",
    metavar="ISO8601",
    help="with --once: the evaluation time (aware, e.g. 2025-03-05T00:00:00+08:00)",
)
@user_errors
def rules(once: bool, at: str | None) -> None:
    """Run the rule engine (settings from FUELWATCH_* environment variables)."""
    if at is not None and not once:
        raise UserError("--at needs --once (the continuous engine runs on the wall clock)")
    settings = settings_from_env(CloudSettings)
    if once:
        asyncio.run(run_once(settings, at=parse_at(at) if at else None, echo=click.echo))
    else:
        asyncio.run(run_forever(settings))
