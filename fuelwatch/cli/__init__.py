"""The ``fuelwatch`` command: the composition root's table of subcommands.

Each subcommand lives with the code it runs (``fuelwatch.gateway.cli``, ``fuelwatch.cloud.*``,
``fuelwatch.sim.cli``) and is imported only when it is invoked, so a station box with the
gateway install (no server-side packages) runs ``fuelwatch gateway ...`` without loading the
cloud. Errors a user can fix are printed as one clear message with exit code 2, never as a
traceback (``fuelwatch.core.clitools``).
"""

from __future__ import annotations

import logging

import click

from fuelwatch.core import __version__
from fuelwatch.core.clitools import Lazy, LazyGroup

__all__ = ["COMMANDS", "main"]

_CLOUD = "the server side is not installed here: pip install 'fuelwatch[cloud]'"

#: Every top-level command: where it lives, its one-line help, what to install if it is missing.
COMMANDS: dict[str, Lazy] = {
    "gateway": Lazy(
        "fuelwatch.gateway.cli:gateway", "The station gateway: devices -> spool -> signed MQTT."
    ),
    "sim": Lazy("fuelwatch.sim.cli:sim", "The station simulator: physics, fraud, device feeds."),
    "registry": Lazy("fuelwatch.cloud.store.cli:registry", "Stations, gateways and keys.", _CLOUD),
    "provision": Lazy(
        "fuelwatch.cloud.provisioning.cli:provision",
        "Make a gateway's identity and config bundle, and register it.",
        _CLOUD,
    ),
    "broker": Lazy("fuelwatch.cloud.provisioning.cli:broker", "Mosquitto accounts.", _CLOUD),
    "cloud": Lazy("fuelwatch.cloud.cli:cloud", "Cloud services.", _CLOUD),
    "query": Lazy(
        "fuelwatch.cloud.store.cli:query", "Run an InfluxQL query, print a table.", _CLOUD
    ),
    "audit": Lazy(
        "fuelwatch.cloud.accounts.audit_cli:audit",
        "The audit log: verify its hash chain, protect it on PostgreSQL.",
        _CLOUD,
    ),
    "grafana": Lazy("fuelwatch.cloud.grafana.cli:grafana", "Grafana dashboards as code.", _CLOUD),
    "demo": Lazy(
        "fuelwatch.demo:demo",
        "The local stack: broker, InfluxDB, cloud, simulated stations.",
        _CLOUD,
    ),
}


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    for noisy in ("httpx", "alembic"):  # a line per request / per migration plugin is noise
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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
