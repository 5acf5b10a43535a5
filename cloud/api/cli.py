"""``fuelwatch cloud create-user`` (listed in cloud/cli.py); ``cloud api`` serves the API with
the console on it, so it lives in ``cloud/console/cli.py``."""

from __future__ import annotations

import click
from sqlalchemy import select

from fuelwatch.cloud.accounts.service import AccountError, create_user, set_password
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, require_schema
from fuelwatch.cloud.store.models.accounts import User
from fuelwatch.core.clitools import user_errors
from fuelwatch.core.config import settings_from_env

__all__ = ["create_user_command", "set_password_command"]


@click.command("create-user")
@click.option("--username", required=True)
@click.option(
    "--department",
    required=True,
    type=click.Choice(
        [
            "commerce",
            "tax",
            "market_regulation",
            "public_security",
            "emergency",
            "environment",
            "platform_admin",
            "station",
        ]
    ),
)
@click.option(
    "--role",
    required=True,
    type=click.Choice(
        [
            "system_admin",
            "security_admin",
            "audit_admin",
            "device_manager",
            "supervisor",
            "officer",
            "viewer",
            "importer",
            "station",
            "monitor",
        ]
    ),
)
@click.option("--district", "districts", multiple=True, help="a district in scope (repeat)")
@click.option("--all-districts", is_flag=True, help="city-wide scope")
@click.option("--station", help="the station of a station portal user")
@click.option("--full-name", default="")
@click.password_option(
    "--password",
    confirmation_prompt=True,
    help="12+ characters of 3 kinds (or a 20+ character passphrase), see docs/security.md",
)
@user_errors
def create_user_command(
    username: str,
    department: str,
    role: str,
    districts: tuple[str, ...],
    all_districts: bool,
    station: str | None,
    full_name: str,
    password: str,
) -> None:
    """Create a user directly in the registry database: the only way to make the system,
    security and audit administrators (三员), whom the API cannot create or change."""

    engine = make_engine(settings_from_env(CloudSettings).registry_url)
    require_schema(engine)
    try:
        with make_sessionmaker(engine).begin() as session:
            user = create_user(
                session,
                username=username,
                password=password,
                department=department,
                role=role,
                districts=list(districts),
                all_districts=all_districts,
                station=station,
                full_name=full_name,
            )
            click.echo(f"user {user.username} ({user.department}/{user.role}) created")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("set-password")
@click.option("--username", required=True)
@click.password_option(
    "--password",
    confirmation_prompt=True,
    help="12+ characters of 3 kinds (or a 20+ character passphrase), see docs/security.md",
)
@user_errors
def set_password_command(username: str, password: str) -> None:
    """Set a user's password on the server, ending their sessions and lifting a lock: the way
    administrators' passwords are reset, since the API changes no administrator."""

    engine = make_engine(settings_from_env(CloudSettings).registry_url)
    require_schema(engine)
    try:
        with make_sessionmaker(engine).begin() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no user {username}")
            set_password(session, user, password)
            click.echo(f"password of {username} set; its sessions ended, any lock lifted")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
