"""What several console pages share: who may see them, counts of open warnings, windows."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.console.render import LOCAL_ZONE
from fuelwatch.cloud.console.session import Viewer, current_viewer
from fuelwatch.cloud.store.models.warnings import Warning_
from fuelwatch.cloud.warnings.service import State

__all__ = [
    "Signed",
    "influx_problem",
    "open_warning_counts",
    "parse_local",
]

Signed = Annotated[Viewer, Depends(current_viewer)]


def open_warning_counts(session: Session, principal: Principal) -> dict[str, dict[str, int]]:
    """Per station: not-closed warnings by severity, within the principal's scope."""
    stmt = (
        select(Warning_.station_id, Warning_.severity, func.count())
        .where(principal.row_filter(Warning_.station_id, Warning_.district_id))
        .where(Warning_.state != State.CLOSED.value)
        .group_by(Warning_.station_id, Warning_.severity)
    )
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for station, severity, count in session.execute(stmt):
        out[station][severity] = int(count)
    return out


def parse_local(value: str | None, default: datetime) -> datetime:
    """A ``datetime-local`` form value, read on the departments' clock; 422 if malformed."""
    if not value:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise HTTPException(422, f"not a date and time: {value[:40]!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_ZONE)
    return parsed


def local_input(value: datetime) -> str:
    """The value of a ``datetime-local`` input for ``value``."""
    return value.astimezone(LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M")


def day_start(now: datetime, days_back: int = 0) -> datetime:
    """Midnight on the departments' clock, ``days_back`` days before ``now``'s day."""
    local = now.astimezone(LOCAL_ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    return local - timedelta(days=days_back)


def influx_problem(exc: Exception) -> str:
    """What a page says when InfluxDB did not answer (the rest of the page still shows)."""
    detail = getattr(exc, "detail", None) or str(exc)
    return str(detail)[:300]
