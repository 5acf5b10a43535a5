"""``fuelwatch audit verify`` and ``fuelwatch audit protect`` (listed in fuelwatch/cli)."""

from __future__ import annotations

import click

from fuelwatch.cloud.accounts.audit_chain import (
    OWNER_ROLE,
    protect,
    protection_problems,
    verify_chain,
)
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.store.cli import registry_option
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, require_schema
from fuelwatch.core.clitools import UserError, user_errors

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """The audit log: verify its hash chain, protect it on PostgreSQL."""


@audit.command("verify")
@registry_option
@user_errors
def verify_command(registry_url: str | None) -> None:
    """Recompute the hash chain of the audit log; exit 1 if any row was changed or removed.

    Prints the last row's id and hash: note them, and a later run shows whether rows were
    cut off the end since.
    """
    engine = make_engine(registry_url or CloudSettings().registry_url)
    require_schema(engine)
    with make_sessionmaker(engine)() as session:
        report = verify_chain(session)
    for problem in protection_problems(engine):
        click.echo(f"warning: {problem}", err=True)
    engine.dispose()
    if report.unchained:
        click.echo(f"{report.unchained} row(s) from before the hash chain (migration 0008)")
    if not report.ok:
        for line in report.broken or []:
            click.echo(f"BROKEN {line}", err=True)
        raise SystemExit(1)
    click.echo(f"audit chain intact: {report.rows} row(s) verified")
    if report.last_id is not None:
        click.echo(f"last row {report.last_id} hash {report.last_hash}")


@audit.command("protect")
@registry_option
@click.option("--app-role", required=True, help="the PostgreSQL role the services connect as")
@user_errors
def protect_command(registry_url: str | None, app_role: str) -> None:
    """As a database administrator (not the services' role): give audit_log to a NOLOGIN
    owner role and leave the services only SELECT and INSERT on it (PostgreSQL)."""
    engine = make_engine(registry_url or CloudSettings().registry_url)
    if engine.dialect.name != "postgresql":
        raise UserError("audit protect is for PostgreSQL registries")
    require_schema(engine)
    try:
        with engine.begin() as conn:
            protect(conn, app_role)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    engine.dispose()
    click.echo(f"audit_log now belongs to {OWNER_ROLE}; {app_role} may only SELECT and INSERT")
