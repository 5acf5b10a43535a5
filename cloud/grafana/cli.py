"""``fuelwatch grafana``: build the dashboard files, sync teams, folders and users.

Imports happen inside the commands: the dashboards need grafana-foundation-sdk (dev) and the
sync grafana-client (the ``[grafana]`` extra); neither is needed to run anything else.
"""

from __future__ import annotations

from pathlib import Path

import click

from fuelwatch.core.clitools import UserError, user_errors
from fuelwatch.core.config import settings_from_env

__all__ = ["grafana"]

DEFAULT_OUT = Path("grafana/dashboards")


@click.group()
def grafana() -> None:
    """Grafana: dashboards as code, and teams, folders and users from the registry."""


@grafana.command("build")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_OUT,
    show_default=True,
    help="folder Grafana provisions dashboards from",
)
@click.option("--check", is_flag=True, help="change nothing; fail if the files are stale")
@user_errors
def build(out: Path, check: bool) -> None:
    """Write the dashboards (cloud/grafana/dashboards) as JSON files."""
    try:
        from fuelwatch.cloud.grafana import dashboards  # noqa: PLC0415
    except ImportError as exc:
        raise UserError(
            f"building dashboards needs grafana-foundation-sdk ({exc}): pip install -e '.[dev]'"
        ) from exc
    if check:
        stale = dashboards.differences(out)
        if stale:
            names = ", ".join(str(p) for p in stale)
            raise UserError(f"dashboard files differ from the code: {names}; run without --check")
        click.echo(f"{len(dashboards.DASHBOARDS)} dashboards in {out} match the code")
        return
    for rel in dashboards.write(out):
        click.echo(out / rel)


@grafana.command("sync")
@click.option(
    "--registry-url", envvar="FUELWATCH_REGISTRY_URL", help="SQLAlchemy URL of the registry"
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="contact points and e-mail domain (YAML, e.g. grafana/sync.yaml); "
    "default FUELWATCH_GRAFANA_SYNC_CONFIG",
)
@click.option("--dry-run", is_flag=True, help="print the changes, make none")
@user_errors
def sync_command(registry_url: str | None, config_path: Path | None, dry_run: bool) -> None:
    """Create department teams, folders, folder permissions, users and contact points.

    Grafana from FUELWATCH_GRAFANA_URL with FUELWATCH_GRAFANA_USER / _PASSWORD (a server
    admin: creating users needs one) or FUELWATCH_GRAFANA_TOKEN.
    """
    from fuelwatch.cloud.common.settings import CloudSettings  # noqa: PLC0415
    from fuelwatch.cloud.grafana.sync import GrafanaApi, sync  # noqa: PLC0415
    from fuelwatch.cloud.grafana.sync.api import GrafanaClientTransport  # noqa: PLC0415
    from fuelwatch.cloud.grafana.sync.config import GrafanaSettings, load_sync_config  # noqa: PLC0415
    from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, require_schema  # noqa: PLC0415

    settings = settings_from_env(GrafanaSettings)
    config = load_sync_config(config_path or settings.sync_config)
    if settings.token:
        credential: object = settings.token
    elif settings.user and settings.password:
        credential = (settings.user, settings.password)
    else:
        raise UserError("set FUELWATCH_GRAFANA_USER and _PASSWORD, or FUELWATCH_GRAFANA_TOKEN")
    try:
        transport = GrafanaClientTransport(
            settings.url, credential=credential, timeout=settings.timeout
        )
    except ImportError as exc:
        raise UserError(
            f"the sync needs grafana-client ({exc}): pip install 'fuelwatch[grafana]'"
        ) from exc
    engine = make_engine(registry_url or settings_from_env(CloudSettings).registry_url)
    try:
        require_schema(engine)
        changes = sync(make_sessionmaker(engine), GrafanaApi(transport), config, dry_run=dry_run)
    finally:
        engine.dispose()
    for change in changes:
        click.echo(change.describe())
    if not changes:
        click.echo(f"Grafana at {settings.url} is in sync with the registry")
    elif dry_run:
        click.echo(f"dry run: {len(changes)} changes, none made")
    else:
        click.echo(f"{len(changes)} changes made")
