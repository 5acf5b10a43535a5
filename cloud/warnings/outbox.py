"""What goes into the outbox when a warning changes: a snapshot of the alert at that moment.

``outbox_entry`` is called by ``fuelwatch.cloud.warnings.service._event`` for every
``WarningEvent``; the entry rides on ``WarningEvent.outbox`` so it is inserted by the same flush, in
the same transaction, as the event. Ids do not exist yet when the snapshot is taken (a new warning
is not flushed); the sender adds ``warning_id`` and ``event_id`` from the rows (``render``).

Evidence leaves the platform here (webhooks, MQTT), so the snapshot carries a summary: the
evidence without its raw ``records`` (their count instead), sensitive keys masked as for a
viewer. The full evidence stays behind the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from fuelwatch.cloud.common.categories import Category
from fuelwatch.cloud.common.masking import mask_evidence
from fuelwatch.cloud.store.models.alerts import AlertOutbox

if TYPE_CHECKING:
    from fuelwatch.cloud.store.models.warnings import Warning_, WarningEvent

__all__ = ["SCHEMA", "evidence_summary", "outbox_entry", "render"]

SCHEMA = "fuelwatch.alert/1"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def evidence_summary(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence minus raw records (counted instead), sensitive keys masked."""
    summary = {k: v for k, v in evidence.items() if k != "records"}
    records = evidence.get("records")
    if isinstance(records, list):
        summary["records_count"] = len(records)
    masked: dict[str, Any] = mask_evidence(summary)
    return masked


def outbox_entry(warning: Warning_, event: WarningEvent) -> AlertOutbox:
    """The outbox row of ``event``; call after the warning's fields hold their new values."""
    category = Category(warning.category)
    payload: dict[str, Any] = {
        "schema": SCHEMA,
        "action": event.action,
        "from_state": event.from_state,
        "state": event.to_state,
        "actor": event.actor,
        "note": event.note,
        "event_at": _iso(event.at),
        "rule_id": warning.rule_id,
        "category": {
            "code": category.value,
            "label_zh": category.label_zh,
            "label_en": category.label_en,
        },
        "severity": warning.severity,
        "district": warning.district_id,
        "station": warning.station_id,
        "subject": warning.subject,
        "title_zh": warning.title_zh,
        "title_en": warning.title_en,
        "message_zh": warning.message_zh,
        "message_en": warning.message_en,
        "evidence_summary": evidence_summary(warning.evidence or {}),
        "first_seen": _iso(warning.first_seen),
        "last_seen": _iso(warning.last_seen),
        "cleared_at": _iso(warning.cleared_at),
        "occurrences": warning.occurrences,
        "escalation_level": warning.escalation_level,
    }
    return AlertOutbox(
        district_id=warning.district_id,
        station_id=warning.station_id,
        category=category.value,
        severity=warning.severity,
        payload=payload,
        created_at=event.at,
        attempts=0,
        last_error="",
    )


def render(row: AlertOutbox, warning_id: int) -> dict[str, Any]:
    """The alert as published: the snapshot with its ids (``event_id`` is the dedup key)."""
    return {"event_id": row.event_id, "warning_id": warning_id, **row.payload}
