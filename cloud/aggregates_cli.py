"""``fuelwatch cloud influx-setup``: the aggregates RP and CQs, and an optional backfill."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click

from fuelwatch.clitools import UserError, user_errors

__all__ = ["influx_setup_command"]


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UserError(f"not an ISO date/time: {value!r}") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@click.command("influx-setup")
@click.option("--backfill", is_flag=True, help="recompute the aggregates from raw data")
@click.option("--since", help="backfill start (ISO date/time; default: the oldest sale/reading)")
@click.option("--until", help="backfill end (ISO date/time; default: now)")
@user_errors
def influx_setup_command(backfill: bool, since: str | None, until: str | None) -> None:
    """Create the aggregates retention policy and continuous queries (idempotent)."""
    from cloud.aggregates import backfill as run_backfill  # noqa: PLC0415
    from cloud.aggregates import ensure_aggregates  # noqa: PLC0415
    from cloud.influx import InfluxClient, InfluxError  # noqa: PLC0415
    from cloud.settings import CloudSettings  # noqa: PLC0415

    settings = CloudSettings()
    start, end = _when(since), _when(until)

    async def run() -> None:
        async with InfluxClient(
            settings.influx_url,
            settings.influx_db,
            username=settings.influx_username,
            password=settings.influx_password,
            timeout=600,
        ) as influx:
            await influx.create_database()
            report = await ensure_aggregates(influx)
            click.echo(f"retention policy aggregates: {report.retention_policy}")
            for label, names in (
                ("created", report.created),
                ("kept", report.kept),
                ("dropped", report.dropped),
            ):
                for name in names:
                    click.echo(f"continuous query {name}: {label}")
            if not backfill:
                return
            first = start or await _oldest(influx)
            if first is None:
                click.echo("backfill: no raw data")
                return
            written = await run_backfill(influx, since=first, until=end)
            for name, n in written.items():
                click.echo(f"backfill {name}: {n} point(s) from {first:%Y-%m-%d}")

    async def _oldest(influx: InfluxClient) -> datetime | None:
        times = []
        for m in ("dispenser_transaction", "tank_inventory", "pos_sale"):
            for s in await influx.query(f'SELECT first("rid") FROM "{m}"'):
                times += [int(r["time"]) for r in s.rows()]
        return datetime.fromtimestamp(min(times) / 1000, tz=UTC) if times else None

    try:
        asyncio.run(run())
    except InfluxError as exc:
        raise UserError(f"InfluxDB at {settings.influx_url}: {exc}") from exc
