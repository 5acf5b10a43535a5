"""``fuelwatch cloud rules``: the engine once (``--once``, optionally ``--at``) or forever on
the wall clock, sleeping until the next rule is due."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.rules.engine import EvaluationReport, RuleEngine
from fuelwatch.core.errors import UserFacingError

__all__ = ["RulesFailedError", "parse_at", "run_forever", "run_once", "summary_lines"]

LOGGER = logging.getLogger(__name__)
#: however far the next rule is, look again this often (an operator may enable a rule)
MAX_SLEEP = timedelta(seconds=60)


class RulesFailedError(UserFacingError, RuntimeError):
    """Some rules could not be evaluated (InfluxDB unreachable, a query refused...)."""


def parse_at(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UserFacingError(f"--at {text!r}: not an ISO 8601 time") from exc
    if at.tzinfo is None:
        raise UserFacingError(f"--at {text!r}: needs a UTC offset, e.g. 2025-03-05T00:00:00+08:00")
    return at


def summary_lines(report: EvaluationReport) -> list[str]:
    lines = []
    for r in report.results:
        state = (
            f"error: {r.error}" if r.error else f"{len(r.fired)} fired, {len(r.resolved)} resolved"
        )
        lines.append(f"{r.rule_id:40s} {state} ({r.duration_ms:.0f} ms)")
        lines += [f"    ! {station} {subject}" for station, subject in r.fired]
    return lines


async def run_once(
    settings: CloudSettings, *, at: datetime | None = None, echo: Callable[[str], None] = print
) -> EvaluationReport:
    engine = RuleEngine.from_settings(settings)
    try:
        now = at or datetime.now(UTC)
        report = await engine.run_all(now)
    finally:
        await engine.aclose()
    echo(f"evaluated {len(report.results)} rules as of {now.isoformat()}")
    for line in summary_lines(report):
        echo(line)
    if report.errors:
        raise RulesFailedError(
            f"{len(report.errors)} of {len(report.results)} rules failed: {report.errors[0].error}"
        )
    return report


async def run_forever(settings: CloudSettings, *, stop: asyncio.Event | None = None) -> None:
    """Evaluate due rules on the wall clock until SIGINT/SIGTERM (or ``stop`` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    engine = RuleEngine.from_settings(settings)
    LOGGER.info("rule engine started with %d rules", len(engine.definitions))
    try:
        while not stop.is_set():
            now = datetime.now(UTC)
            report = await engine.run_due(now)
            for r in report.errors:
                LOGGER.warning("rule %s failed: %s", r.rule_id, r.error)
            wait = min(engine.next_due(datetime.now(UTC)) - datetime.now(UTC), MAX_SLEEP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(wait.total_seconds(), 1.0))
    finally:
        await engine.aclose()
        LOGGER.info("rule engine stopped")
