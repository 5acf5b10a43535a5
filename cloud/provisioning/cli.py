"""``fuelwatch provision`` and ``fuelwatch broker ...``: gateway bundles and broker accounts."""

from __future__ import annotations

from pathlib import Path

import click

from fuelwatch.cloud.provisioning.alert_readers import AlertReaderError, set_alert_reader
from fuelwatch.cloud.provisioning.passwords import PasswordFile
from fuelwatch.cloud.provisioning.service import provision_gateway
from fuelwatch.cloud.store.cli import registry_option, sessions_for
from fuelwatch.core.clitools import UserError, user_errors
from fuelwatch.core.wire import Algorithm

__all__ = ["broker", "provision"]


@click.command("provision")
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
@click.option(
    "--ca-cert",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="CA of the broker's certificate: the bundle connects with TLS + password "
    "(give the TLS password port as --mqtt-port); without it, plain MQTT",
)
@click.option(
    "--alg", type=click.Choice(["ed25519", "p256", "sm2"]), default="ed25519", show_default=True
)
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
    ca_cert: Path | None,
    alg: str,
) -> None:
    """Make a gateway's identity and config bundle, and register it."""
    bundle = provision_gateway(
        sessions_for(registry_url),
        district=district,
        station=station,
        gateway=gateway_id,
        out_dir=out,
        password_file=broker_passwd,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        alg=Algorithm(alg),
        mqtt_password=mqtt_password,
        ca_cert=ca_cert,
    )
    click.echo(f"gateway {bundle.gateway} (key {bundle.kid}) provisioned: {bundle.config_file}")
    if ca_cert is None:
        click.echo("note: plain MQTT (no --ca-cert): only for a broker on a trusted network")
    if broker_passwd:
        click.echo(
            f"MQTT account {bundle.mqtt_username} set in {broker_passwd}; "
            "send the broker SIGHUP to reload it"
        )


@click.group()
def broker() -> None:
    """Mosquitto accounts."""


@broker.command("passwd")
@click.option("--file", "path", type=click.Path(path_type=Path), required=True)
@click.option("--user", required=True)
@click.password_option("--password", confirmation_prompt=True)
@user_errors
def broker_passwd(path: Path, user: str, password: str) -> None:
    """Set a user's password in a Mosquitto password file (then SIGHUP the broker)."""
    passwd = PasswordFile(path)
    try:
        passwd.set(user, password)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    passwd.save()
    click.echo(f"password for {user} set in {path}")


@broker.command("alert-reader")
@click.option("--acl", "acl_file", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--passwd", "password_file", type=click.Path(path_type=Path), required=True)
@click.option("--user", required=True, help="the recipient's MQTT user name")
@click.option(
    "--district", "districts", multiple=True, required=True, help="district it may read (repeat)"
)
@click.password_option("--password", confirmation_prompt=True)
@user_errors
def broker_alert_reader(
    acl_file: Path, password_file: Path, user: str, districts: tuple[str, ...], password: str
) -> None:
    """Make a read-only alert recipient account: alerts/v1/<district>/# only (then SIGHUP)."""
    try:
        set_alert_reader(acl_file, user, districts)
        passwd = PasswordFile(password_file)
        passwd.set(user, password)
    except (AlertReaderError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    passwd.save()
    click.echo(
        f"{user} may read alerts of {', '.join(districts)}; send the broker SIGHUP to reload"
    )
