"""``fuelwatch gateway``: run the station gateway, show its status, make its signing key."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import click

from fuelwatch.core.clitools import UserError, user_errors
from fuelwatch.core.files import write_secret
from fuelwatch.core.wire import Algorithm, Signer, generate_private_key_pem, public_key_pem
from fuelwatch.gateway.app import read_status_file, run_gateway
from fuelwatch.gateway.sealing import generate_box_key, seal_file
from fuelwatch.gateway.settings import load_gateway_config

__all__ = ["gateway"]


@click.group()
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
    config = load_gateway_config(config_path)
    asyncio.run(run_gateway(config))


@gateway.command("status")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), required=True)
@user_errors
def gateway_status(config_path: Path) -> None:
    """Print the gateway's last status (spool backlog, drops, publish errors, devices)."""
    config = load_gateway_config(config_path)
    path = config.spool.path.with_name("status.json")
    if not path.exists():
        raise UserError(f"no status yet at {path}: has the gateway run?")
    status = read_status_file(path)
    click.echo(json.dumps(status, indent=2, ensure_ascii=False))
    written = status.get("written_at")
    interval = status.get("status_file_interval")
    if isinstance(written, int) and isinstance(interval, int | float):
        age = time.time() - written / 1000
        if age > 3 * interval + 5:
            click.echo(
                f"note: this status is {age:.0f} s old (it is rewritten every {interval:g} s "
                f"while the gateway runs): the gateway (pid {status.get('pid')}) is not running",
                err=True,
            )


@gateway.command("seal")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), required=True)
@click.option(
    "--new-key",
    is_flag=True,
    help="first make the box key named by sealing.key_file (32 random hex digits, mode 0600)",
)
@user_errors
def gateway_seal(config_path: Path, new_key: bool) -> None:
    """Seal the gateway's signing key and MQTT password with SM4 under the box key."""
    config = load_gateway_config(config_path)
    if config.sealing is None:
        raise UserError("the config has no sealing section (sealing: {key_file: ...})")
    if new_key:
        generate_box_key(config.sealing.key_file)
    key = config.sealing.box_key()
    for path, role in (
        (config.signing_key, "signing.key"),
        (config.mqtt.password_file, "mqtt.password"),
    ):
        if path is None or not path.exists():
            continue
        done = seal_file(path, role, key)
        click.echo(f"{path}: {'sealed' if done else 'already sealed'}")


@gateway.command("keygen")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="private key file to write (mode 0600); the public key goes to OUT.pub",
)
@click.option(
    "--alg", type=click.Choice(["ed25519", "p256", "sm2"]), default="ed25519", show_default=True
)
@user_errors
def gateway_keygen(out: Path, alg: str) -> None:
    """Make a signing key pair for a gateway."""
    if out.exists():
        raise UserError(f"{out} exists; not overwriting a key")
    pem = generate_private_key_pem(Algorithm(alg))
    write_secret(out, pem)
    pub = out.with_name(out.name + ".pub")
    pub.write_bytes(public_key_pem(pem))
    click.echo(f"key id {Signer.from_pem(pem).kid}: private {out}, public {pub}")
