"""Whole simulation runs: in scaled real time with servers, or offline as fast as possible."""

from __future__ import annotations

import logging
import time
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import orjson

from fuelwatch.sim.live import LiveStation, SimContext
from fuelwatch.sim.offline import gateway_records
from fuelwatch.sim.outputs import RunOutputs
from fuelwatch.sim.scenario import Scenario
from fuelwatch.sim.serve import SERVERS
from fuelwatch.sim.station import Station

__all__ = ["run_offline", "run_realtime"]

LOGGER = logging.getLogger("fuelwatch.sim")


async def run_realtime(
    scenario: Scenario,
    out_dir: Path,
    *,
    speed: float,
    servers: list[tuple[str, dict[str, str]]],
    logger: logging.Logger = LOGGER,
) -> dict[str, Any]:
    """Run the scenario at ``speed`` with the given servers; returns the summary."""
    station = Station(scenario)
    outputs = RunOutputs(out_dir, station)
    live = LiveStation(station, speed=speed)
    ctx = SimContext(live=live, scenario=scenario, logger=logger)
    started = time.monotonic()
    running: list[tuple[str, object]] = []
    try:
        async with AsyncExitStack() as stack:
            for kind, options in servers:
                running.append((kind, await stack.enter_async_context(SERVERS[kind](ctx, options))))
            logger.info(
                "station %s running at %gx with %s",
                scenario.station.id,
                speed,
                ", ".join(kind for kind, _ in running) or "no servers",
            )
            await live.run(scenario.end_ms, outputs.on_events)
    finally:  # servers have stopped (a POS client has sent its last pushes)
        summary = outputs.finish(
            wall_seconds=time.monotonic() - started,
            extra={
                "mode": "realtime",
                "speed": speed,
                "servers": {kind: _stats(obj) for kind, obj in running},
            },
        )
    return summary


def run_offline(scenario: Scenario, out_dir: Path, *, records: bool = False) -> dict[str, Any]:
    """Step the scenario as fast as possible through the gateway feed; returns the summary.

    The timing covers the model and building every gateway record (and writing them, with
    ``records``): what a benchmark pays per station-month before the spool.
    """
    station = Station(scenario)
    outputs = RunOutputs(out_dir, station)
    counts: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    started = time.perf_counter()
    feed = gateway_records(station, lost=lost, on_events=outputs.on_events)
    if records:
        with (out_dir / "records.jsonl").open("wb") as out:
            for device, record in feed:
                counts[record.KIND.value] += 1
                line = {"device": device, "kind": record.KIND.value, **record.model_dump()}
                out.write(orjson.dumps(line) + b"\n")
    else:
        for _, record in feed:
            counts[record.KIND.value] += 1
    wall = time.perf_counter() - started
    return outputs.finish(
        wall_seconds=wall,
        extra={
            "mode": "offline",
            "records": dict(sorted(counts.items())),
            "records_total": sum(counts.values()),
            "lost_in_outages": dict(sorted(lost.items())),
        },
    )


def _stats(obj: object) -> Any:
    stats = getattr(obj, "stats", None)
    return stats() if callable(stats) else None
