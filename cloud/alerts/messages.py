"""What the sender writes: MQTT topics, the per-station summary, the ``warning_event`` point.

Pure functions on rows; the I/O is in ``publisher``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from fuelwatch.cloud.common.categories import Category, Severity
from fuelwatch.cloud.store.lineproto import write_line
from fuelwatch.cloud.store.models.alerts import AlertOutbox

__all__ = [
    "SUMMARY_SCHEMA",
    "alert_topic",
    "dumps",
    "station_summary",
    "summary_topic",
    "warning_event_line",
]

SUMMARY_SCHEMA = "fuelwatch.alert-summary/1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def dumps(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (Chinese stays readable); the exact bytes webhooks sign."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def alert_topic(prefix: str, row: AlertOutbox) -> str:
    return f"{prefix}/{row.district_id}/{row.station_id}/{row.category}"


def summary_topic(prefix: str, district: str, station: str) -> str:
    return f"{prefix}/{district}/{station}/summary"


def station_summary(
    district: str, station: str, counts: Iterable[tuple[str, str, bool, int]], *, at: datetime
) -> dict[str, Any]:
    """Not-closed warnings of one station by category and severity.

    ``counts`` holds (category, severity, cleared, number) groups. ``active`` counts warnings
    whose condition still holds (not cleared); ``open`` all that a person has yet to close.
    """
    by_category: dict[str, Counter[str]] = {}
    by_severity: Counter[str] = Counter()
    active = 0
    for category, severity, cleared, n in counts:
        active += 0 if cleared else n
        by_category.setdefault(category, Counter())[severity] += n
        by_severity[severity] += n
    ranks = [s.value for s in Severity]
    return {
        "schema": SUMMARY_SCHEMA,
        "district": district,
        "station": station,
        "at": at.isoformat(),
        "open": sum(by_severity.values()),
        "active": active,
        "max_severity": max(by_severity, key=ranks.index) if by_severity else None,
        "by_severity": {s: by_severity[s] for s in ranks if by_severity[s]},
        "by_category": {
            code: {
                "label_zh": Category(code).label_zh,
                "label_en": Category(code).label_en,
                "open": sum(counts.values()),
                "by_severity": {s: counts[s] for s in ranks if counts[s]},
            }
            for code, counts in sorted(by_category.items())
        },
    }


def changes_state(row: AlertOutbox) -> bool:
    """Only events that change the workflow state become ``warning_event`` points.

    Dashboards count points with state ``open`` as warnings opened; a ``recurred`` or
    ``severity_raised`` event leaves an open warning open and must not count again.
    """
    return bool(row.payload.get("from_state") != row.payload.get("state"))


def warning_event_line(row: AlertOutbox, warning_id: int) -> str | None:
    """The InfluxDB point of a state change, or None for events that change no state.

    The time is the event's, with the event id in the sub-millisecond digits: two events in
    one millisecond stay two points, and a retried write overwrites the same point.
    """
    if not changes_state(row):
        return None
    p = row.payload
    ms = (datetime.fromisoformat(p["event_at"]) - EPOCH) // timedelta(milliseconds=1)
    time_ns = ms * 1_000_000 + row.event_id % 1_000_000
    value = (p.get("evidence_summary") or {}).get("value")
    tags = {
        "district": row.district_id,
        "station": row.station_id,
        "category": row.category,
        "severity": row.severity,
        "rule": p["rule_id"],
    }
    fields: dict[str, Any] = {
        "warning_id": warning_id,
        "event_id": row.event_id,
        "state": p["state"],
        "action": p["action"],
        "title_zh": p["title_zh"],
        "title_en": p["title_en"],
        "value": float(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else None,
    }
    return write_line("warning_event", tags, fields, time_ns)
