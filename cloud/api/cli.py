"""``fuelwatch cloud api`` and ``fuelwatch cloud create-user`` (registered in fuelwatch/cli.py)."""

from __future__ import annotations

import click

__all__ = ["api_command", "create_user_command"]


@click.command("api")
@click.option("--host", help="listen address (default FUELWATCH_API_HOST or 127.0.0.1)")
@click.option("--port", type=int, help="listen port (default FUELWATCH_API_PORT or 8080)")
@click.option("--workers", default=1, show_default=True, help="uvicorn worker processes")
def api_command(host: str | None, port: int | None, workers: int) -> None:
    """Run the management API (settings from FUELWATCH_* environment variables)."""
    import uvicorn  # noqa: PLC0415

    from cloud.settings import CloudSettings  # noqa: PLC0415

    settings = CloudSettings()
    uvicorn.run(
        "cloud.api.serve:app",
        factory=False,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers,
        proxy_headers=settings.api.trust_forwarded_for,
        log_level="info",
    )


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
        ["admin", "device_manager", "supervisor", "officer", "viewer", "importer", "station"]
    ),
)
@click.option("--district", "districts", multiple=True, help="a district in scope (repeat)")
@click.option("--all-districts", is_flag=True, help="city-wide scope")
@click.option("--station", help="the station of a station portal user")
@click.option("--full-name", default="")
@click.password_option("--password", confirmation_prompt=True, help="at least 10 characters")
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
    """Create a user directly in the registry database (e.g. the first admin)."""
    from cloud.accounts.service import AccountError, create_user  # noqa: PLC0415
    from cloud.registry.db import make_engine, make_sessionmaker, require_schema  # noqa: PLC0415
    from cloud.settings import CloudSettings  # noqa: PLC0415

    engine = make_engine(CloudSettings().registry_url)
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
