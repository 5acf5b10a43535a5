"""Store commands: `fuelwatch registry ...`, `fuelwatch query`, `fuelwatch cloud influx-setup`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.store.aggregates import backfill as run_backfill
from fuelwatch.cloud.store.aggregates import ensure_aggregates
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError
from fuelwatch.cloud.store.models.registry import Gateway
from fuelwatch.cloud.store.registry import (
    ensure_station,
    register_gateway,
    register_key,
    revoke_key,
)
from fuelwatch.core.clitools import UserError, user_errors
from fuelwatch.core.config import settings_from_env

__all__ = ["influx_setup_command", "query", "registry", "registry_option", "sessions_for"]


def sessions_for(registry_url: str | None) -> sessionmaker[Session]:
    """Sessions on the registry at ``registry_url`` (default from settings), schema upgraded."""
    url = registry_url or settings_from_env(CloudSettings).registry_url
    engine = make_engine(url)
    upgrade(engine)
    return make_sessionmaker(engine)


registry_option = click.option(
    "--registry-url",
    envvar="FUELWATCH_REGISTRY_URL",
    help="SQLAlchemy URL (default: sqlite under .fuelwatch)",
)


@click.group()
def registry() -> None:
    """Stations, gateways and keys."""


@registry.command("upgrade")
@registry_option
@user_errors
def registry_upgrade(registry_url: str | None) -> None:
    """Create or migrate the registry schema to the newest version."""
    sessions_for(registry_url)
    click.echo("registry schema is up to date")


@registry.command("add-gateway")
@registry_option
@click.option("--district", required=True)
@click.option("--station", required=True)
@click.option("--gateway", "gateway_id", required=True)
@click.option("--public-key", type=click.Path(path_type=Path, exists=True), required=True)
@user_errors
def registry_add_gateway(
    registry_url: str | None, district: str, station: str, gateway_id: str, public_key: Path
) -> None:
    """Register a gateway and its public signing key (station and district made if new)."""
    sessions = sessions_for(registry_url)
    with sessions.begin() as session:
        ensure_station(session, district=district, station=station)
        register_gateway(session, gateway=gateway_id, station=station)
        key = register_key(session, gateway=gateway_id, public_key_pem=public_key.read_bytes())
        click.echo(f"gateway {gateway_id} of {district}/{station}: key {key.kid} ({key.alg})")


@registry.command("revoke-key")
@registry_option
@click.argument("kid")
@user_errors
def registry_revoke_key(registry_url: str | None, kid: str) -> None:
    """Revoke a gateway key; ingest rejects its messages within seconds."""
    with sessions_for(registry_url).begin() as session:
        key = revoke_key(session, kid=kid)
        click.echo(f"key {kid} of gateway {key.gateway_id} revoked at {key.revoked_at}")


@registry.command("list")
@registry_option
@user_errors
def registry_list(registry_url: str | None) -> None:
    """List stations, gateways and keys."""
    with sessions_for(registry_url)() as session:
        for gw in session.scalars(select(Gateway).order_by(Gateway.id)):
            keys = ", ".join(f"{k.kid}{' (revoked)' if k.revoked_at else ''}" for k in gw.keys)
            click.echo(f"{gw.station.district_id}/{gw.station_id}  gateway {gw.id}  keys: {keys}")


@click.command("query")
@click.argument("influxql")
@click.option(
    "--influx-url",
    envvar="FUELWATCH_INFLUX_URL",
    default="http://127.0.0.1:18086",
    show_default=True,
)
@click.option("--db", envvar="FUELWATCH_INFLUX_DB", default="fuelwatch", show_default=True)
@user_errors
def query(influxql: str, influx_url: str, db: str) -> None:
    """Run an InfluxQL query and print the result as a table."""

    async def run() -> None:
        async with InfluxClient(influx_url, db) as client:
            try:
                series = await client.query(influxql, epoch="ms")
            except InfluxError as exc:
                raise UserError(str(exc)) from exc
        if not series:
            click.echo("(no rows)")
        for s in series:
            tags = " ".join(f"{k}={v}" for k, v in s.tags.items())
            click.echo(f"== {s.name} {tags}".rstrip())
            click.echo("\t".join(s.columns))
            for row in s.values:
                click.echo("\t".join("" if v is None else str(v) for v in row))

    asyncio.run(run())


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
    settings = settings_from_env(CloudSettings)
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
