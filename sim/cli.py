"""``fuelwatch sim``: run a simulated station from a scenario file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from fuelwatch.core.clitools import UserError, user_errors
from fuelwatch.sim.runner import run_offline, run_realtime
from fuelwatch.sim.scenario import load_scenario
from fuelwatch.sim.serve import parse_serve
from fuelwatch.sim.station import Station

__all__ = ["sim"]


def _speed(value: str | None) -> float | None:
    """``max`` -> None (offline, as fast as possible); otherwise a positive factor."""
    if value is None or value.lower() == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number nor 'max'") from None
    if speed <= 0:
        raise click.BadParameter("speed must be positive")
    return speed


@click.group()
def sim() -> None:
    """The physical station simulator: station model, fraud scenarios, device feeds."""


@sim.command("run")
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="folder for labels, waybills, station registry data and the summary",
)
@click.option(
    "--speed",
    default=None,
    help="simulated seconds per wall second (default: the scenario's), or 'max' for an "
    "offline run as fast as possible (no servers)",
)
@click.option(
    "--serve",
    "serve",
    multiple=True,
    metavar="KIND[:KEY=VALUE,...]",
    help="start a server or client for the live station, e.g. "
    "'pos:url=http://127.0.0.1:8710,token=...' (repeatable)",
)
@click.option(
    "--records", is_flag=True, help="offline: also write the gateway feed to records.jsonl"
)
@user_errors
def run(
    scenario_path: Path, out_dir: Path, speed: str | None, serve: tuple[str, ...], records: bool
) -> None:
    """Run SCENARIO; write labels, waybills, station.json and summary.json to --out."""

    scenario = load_scenario(scenario_path)
    servers = [parse_serve(text) for text in serve]
    offline = speed is not None and speed.lower() == "max"
    if offline and servers:
        raise UserError("--speed max runs offline; it cannot serve protocols (drop --serve)")
    if records and not offline:
        raise UserError("--records needs --speed max (the offline feed)")
    if offline:
        summary = run_offline(scenario, out_dir, records=records)
    else:
        factor = _speed(speed) or scenario.speed
        summary = asyncio.run(run_realtime(scenario, out_dir, speed=factor, servers=servers))
    _report(summary, out_dir)


def _report(summary: dict[str, Any], out_dir: Path) -> None:
    days = summary["simulated_days"]
    click.echo(
        f"station {summary['station']}: {days:g} simulated day(s) in "
        f"{summary['wall_seconds']:.2f} s wall ({summary['mode']}); "
        f"a station-month takes {summary['wall_seconds_per_station_month']:.1f} s at this pace"
    )
    click.echo(
        f"{summary['sales']} sales ({summary['sales_litres']:.0f} L, "
        f"{summary['sales_amount']:.2f} yuan), {summary['deliveries']} deliveries, "
        f"{summary['waybills']} waybills, {summary['alarms_raised']} alarms, "
        f"{sum(summary['labels'].values())} labels"
    )
    if summary["mode"] == "offline":
        click.echo(f"{summary['records_total']} gateway records")
    click.echo(f"outputs in {out_dir}")


@sim.command("check")
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(path_type=Path))
@user_errors
def check(scenario_path: Path) -> None:
    """Validate SCENARIO and print the station layout and injections."""

    scenario = load_scenario(scenario_path)
    station = Station(scenario)
    click.echo(
        f"station {scenario.station.id} ({scenario.station.name or 'unnamed'}), seed "
        f"{scenario.seed}, from {scenario.start.isoformat()} for "
        f"{scenario.duration.total_seconds() / 86_400:g} day(s)"
    )
    for number, tank in station.tanks.items():
        gauge = station.gauges[number]
        click.echo(
            f"  tank {number}: {tank.product}, {tank.geometry.capacity:.0f} L "
            f"(gauge table {gauge.capacity:.0f} L), {tank.gross:.0f} L in it"
        )
    for nozzle in station.nozzles.values():
        click.echo(
            f"  nozzle {nozzle.number} (dispenser {nozzle.dispenser}): {nozzle.product} from "
            f"tank {nozzle.tank}, meter error {nozzle.meter_error * 100:+.3f} %"
        )
    for index, injection in enumerate(scenario.injections):
        periods = [lb for lb in station.labels.labels() if lb.injection == index]
        when = f"{len(periods)} period(s)" if periods else "labelled when it happens"
        click.echo(f"  injection {index}: {injection.kind}, {when}")
