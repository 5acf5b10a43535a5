"""The ``fuelwatch`` command. Each subcommand is a thin shell over a module that does the work.

Errors a user can fix (bad config, missing service, conflicting registration) are printed as
one clear message with exit code 2, never as a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import click

from cloud.grafana.cli import grafana
from fuelwatch import __version__
from fuelwatch.clitools import UserError, user_errors
from fuelwatch.sim.cli import sim


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    for noisy in ("httpx", "alembic"):  # a line per request / per migration plugin is noise
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fuelwatch")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def main(log_level: str) -> None:
    """fuelwatch: supervision platform for retail fuel stations."""
    _setup_logging(log_level)


main.add_command(sim)
main.add_command(grafana)

# -- gateway ---------------------------------------------------------------------------------


@main.group()
def gateway() -> None:
    """The station gateway: devices -> spool -> signed MQTT."""


@gateway.command("run")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="gateway.yaml (from the provisioning bundle)",
)
@user_errors
def gateway_run(config_path: Path) -> None:
    """Run the gateway until Ctrl-C / SIGTERM."""
    from gateway.app import run_gateway  # noqa: PLC0415
    from gateway.settings import load_gateway_config  # noqa: PLC0415

    config = load_gateway_config(config_path)
    asyncio.run(run_gateway(config))


@gateway.command("status")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), required=True)
@user_errors
def gateway_status(config_path: Path) -> None:
    """Print the gateway's last status (spool backlog, drops, publish errors, devices)."""
    from gateway.app import read_status_file  # noqa: PLC0415
    from gateway.settings import load_gateway_config  # noqa: PLC0415

    config = load_gateway_config(config_path)
    path = config.spool.path.with_name("status.json")
    if not path.exists():
        raise UserError(f"no status yet at {path}: has the gateway run?")
    click.echo(json.dumps(read_status_file(path), indent=2, ensure_ascii=False))


@gateway.command("keygen")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="private key file to write (mode 0600); the public key goes to OUT.pub",
)
@click.option("--alg", type=click.Choice(["ed25519", "p256"]), default="ed25519", show_default=True)
@user_errors
def gateway_keygen(out: Path, alg: str) -> None:
    """Make a signing key pair for a gateway."""
    from cloud.provisioning import _write_secret  # noqa: PLC0415
    from fuelwatch.wire import (  # noqa: PLC0415
        Algorithm,
        Signer,
        generate_private_key_pem,
        public_key_pem,
    )

    if out.exists():
        raise UserError(f"{out} exists; not overwriting a key")
    pem = generate_private_key_pem(Algorithm(alg))
    _write_secret(out, pem)
    pub = out.with_name(out.name + ".pub")
    pub.write_bytes(public_key_pem(pem))
    click.echo(f"key id {Signer.from_pem(pem).kid}: private {out}, public {pub}")


# -- registry --------------------------------------------------------------------------------


def _sessions(registry_url: str | None) -> Any:
    from cloud.registry.db import make_engine, make_sessionmaker, upgrade  # noqa: PLC0415
    from cloud.settings import CloudSettings  # noqa: PLC0415

    url = registry_url or CloudSettings().registry_url
    engine = make_engine(url)
    upgrade(engine)
    return make_sessionmaker(engine)


registry_option = click.option(
    "--registry-url",
    envvar="FUELWATCH_REGISTRY_URL",
    help="SQLAlchemy URL (default: sqlite under .fuelwatch)",
)


@main.group()
def registry() -> None:
    """Stations, gateways and keys."""


@registry.command("upgrade")
@registry_option
@user_errors
def registry_upgrade(registry_url: str | None) -> None:
    """Create or migrate the registry schema to the newest version."""
    _sessions(registry_url)
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
    from cloud.registry.gateways import (  # noqa: PLC0415
        ensure_station,
        register_gateway,
        register_key,
    )

    sessions = _sessions(registry_url)
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
    from cloud.registry.gateways import revoke_key  # noqa: PLC0415

    with _sessions(registry_url).begin() as session:
        key = revoke_key(session, kid=kid)
        click.echo(f"key {kid} of gateway {key.gateway_id} revoked at {key.revoked_at}")


@registry.command("list")
@registry_option
@user_errors
def registry_list(registry_url: str | None) -> None:
    """List stations, gateways and keys."""
    from sqlalchemy import select  # noqa: PLC0415

    from cloud.registry.models import Gateway  # noqa: PLC0415

    with _sessions(registry_url)() as session:
        for gw in session.scalars(select(Gateway).order_by(Gateway.id)):
            keys = ", ".join(f"{k.kid}{' (revoked)' if k.revoked_at else ''}" for k in gw.keys)
            click.echo(f"{gw.station.district_id}/{gw.station_id}  gateway {gw.id}  keys: {keys}")


# -- provisioning ----------------------------------------------------------------------------


@main.command("provision")
@registry_option
@click.option("--district", required=True)
@click.option("--station", required=True)
@click.option("--gateway", "gateway_id", required=True)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="folder for the gateway's bundle"
)
@click.option(
    "--broker-passwd",
    type=click.Path(path_type=Path),
    help="Mosquitto password file to add the station's account to",
)
@click.option("--mqtt-host", default="127.0.0.1", show_default=True)
@click.option("--mqtt-port", default=1883, show_default=True)
@click.option("--mqtt-password", help="the station's existing MQTT password (2nd gateway)")
@click.option("--alg", type=click.Choice(["ed25519", "p256"]), default="ed25519", show_default=True)
@user_errors
def provision(
    registry_url: str | None,
    district: str,
    station: str,
    gateway_id: str,
    out: Path,
    broker_passwd: Path | None,
    mqtt_host: str,
    mqtt_port: int,
    mqtt_password: str | None,
    alg: str,
) -> None:
    """Make a gateway's identity and config bundle, and register it."""
    from cloud.provisioning import provision_gateway  # noqa: PLC0415
    from fuelwatch.wire import Algorithm  # noqa: PLC0415

    bundle = provision_gateway(
        _sessions(registry_url),
        district=district,
        station=station,
        gateway=gateway_id,
        out_dir=out,
        password_file=broker_passwd,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        alg=Algorithm(alg),
        mqtt_password=mqtt_password,
    )
    click.echo(f"gateway {bundle.gateway} (key {bundle.kid}) provisioned: {bundle.config_file}")
    if broker_passwd:
        click.echo(
            f"MQTT account {bundle.mqtt_username} set in {broker_passwd}; "
            "send the broker SIGHUP to reload it"
        )


# -- broker ----------------------------------------------------------------------------------


@main.group()
def broker() -> None:
    """Mosquitto accounts."""


@broker.command("passwd")
@click.option("--file", "path", type=click.Path(path_type=Path), required=True)
@click.option("--user", required=True)
@click.password_option("--password", confirmation_prompt=True)
@user_errors
def broker_passwd(path: Path, user: str, password: str) -> None:
    """Set a user's password in a Mosquitto password file (then SIGHUP the broker)."""
    from fuelwatch.stack.broker import PasswordFile  # noqa: PLC0415

    passwd = PasswordFile(path)
    try:
        passwd.set(user, password)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    passwd.save()
    click.echo(f"password for {user} set in {path}")


# -- cloud -----------------------------------------------------------------------------------


@main.group()
def cloud() -> None:
    """Cloud services."""


@cloud.command("ingest")
@click.option("--client-id", help="MQTT client id of this worker (unique per worker)")
@user_errors
def cloud_ingest(client_id: str | None) -> None:
    """Run one ingest worker (settings from FUELWATCH_* environment variables)."""
    from cloud.ingest.app import run_ingest  # noqa: PLC0415
    from cloud.settings import CloudSettings  # noqa: PLC0415

    settings = CloudSettings()
    if client_id:
        settings = settings.model_copy(update={"ingest_client_id": client_id})
    asyncio.run(run_ingest(settings))


@cloud.command("rules")
@click.option("--once", is_flag=True, help="evaluate every enabled rule once and exit")
@click.option(
    "--at",
    "at",
    metavar="ISO8601",
    help="with --once: the evaluation time (aware, e.g. 2025-03-05T00:00:00+08:00)",
)
@user_errors
def cloud_rules(once: bool, at: str | None) -> None:
    """Run the rule engine (settings from FUELWATCH_* environment variables)."""
    from cloud.rules.runner import parse_at, run_forever, run_once  # noqa: PLC0415
    from cloud.settings import CloudSettings  # noqa: PLC0415

    if at is not None and not once:
        raise UserError("--at needs --once (the continuous engine runs on the wall clock)")
    settings = CloudSettings()
    if once:
        asyncio.run(run_once(settings, at=parse_at(at) if at else None, echo=click.echo))
    else:
        asyncio.run(run_forever(settings))


def _api_commands() -> None:
    from cloud.api.cli import api_command, create_user_command  # noqa: PLC0415

    cloud.add_command(api_command)
    cloud.add_command(create_user_command)


_api_commands()


@main.command("query")
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
    from cloud.influx import InfluxClient, InfluxError  # noqa: PLC0415

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


@main.command("demo")
@click.option(
    "--state-dir", type=click.Path(path_type=Path), default=Path(".fuelwatch"), show_default=True
)
@click.option("--stations", default=3, show_default=True, help="simulated stations")
@click.option(
    "--duration",
    type=float,
    default=None,
    help="stop after this many seconds (default: until Ctrl-C)",
)
@user_errors
def demo(state_dir: Path, stations: int, duration: float | None) -> None:
    """Run the whole local stack: broker, InfluxDB, ingest and simulated stations."""
    from fuelwatch.demo import run_demo  # noqa: PLC0415

    run_demo(state_dir=state_dir, stations=stations, duration=duration)


if __name__ == "__main__":
    main()
