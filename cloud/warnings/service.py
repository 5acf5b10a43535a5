"""Warning storage and lifecycle, with no HTTP: the rule engine and the API both call this.

The rule engine reports what it sees:

- ``upsert_warning(...)`` when a rule fires for a subject of a station (``"tank:2"``,
  ``"nozzle:5"``, ``"station"``); the dedup key is rule + station + subject.
  The first time it creates a warning in state ``open``; while that warning is not closed,
  later calls update it (``last_seen``, ``occurrences``, latest evidence and texts, a
  higher severity) instead of creating another. After it is closed, a new one is opened.
- ``resolve_warning(...)`` when the condition no longer holds. The warning is marked
  cleared (``cleared_at``) with an event, but stays in its workflow state: a person closes
  it, so nothing a rule saw disappears unhandled. If the rule fires again, it is un-cleared.

People move a warning through the workflow with ``transition``::

    open ──acknowledge──▶ acknowledged ──request_rectification──▶ rectification_requested
      │                        │                                          │ respond (station)
      │                        ▼                                          ▼
      └──escalate──▶ escalated ◀──escalate── (any open state) ◀── station_responded
                                                                          │
    any state but closed ──close──▶ closed            (assign: any open state, no change)

Every change, by a rule or a person, is a ``WarningEvent`` with who, when and the states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fuelwatch.cloud.common.categories import Category, Severity
from fuelwatch.cloud.store.models.registry import Station
from fuelwatch.cloud.store.models.warnings import Warning_, WarningComment, WarningEvent
from fuelwatch.cloud.warnings.outbox import outbox_entry
from fuelwatch.core.timeutil import utcnow

__all__ = [
    "ENGINE_ACTOR",
    "Action",
    "State",
    "UpsertResult",
    "WorkflowError",
    "add_comment",
    "dedup_key",
    "open_warning",
    "resolve_warning",
    "transition",
    "upsert_warning",
]

ENGINE_ACTOR = "rule-engine"
SEVERITY_ORDER = {s: i for i, s in enumerate(Severity)}


class WorkflowError(ValueError):
    """An action the warning's state does not allow, or a warning that cannot be stored."""


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RECTIFICATION_REQUESTED = "rectification_requested"
    STATION_RESPONDED = "station_responded"
    ESCALATED = "escalated"
    CLOSED = "closed"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    REQUEST_RECTIFICATION = "request_rectification"
    RESPOND = "respond"
    ESCALATE = "escalate"
    CLOSE = "close"


S = State
NOT_CLOSED = frozenset(State) - {S.CLOSED}

#: action -> (states it may start from, state it leads to; None = unchanged)
TRANSITIONS: dict[Action, tuple[frozenset[State], State | None]] = {
    Action.ACKNOWLEDGE: (frozenset({S.OPEN, S.ESCALATED}), S.ACKNOWLEDGED),
    Action.ASSIGN: (NOT_CLOSED, None),
    Action.REQUEST_RECTIFICATION: (
        frozenset({S.OPEN, S.ACKNOWLEDGED, S.ESCALATED, S.STATION_RESPONDED}),
        S.RECTIFICATION_REQUESTED,
    ),
    Action.RESPOND: (frozenset({S.RECTIFICATION_REQUESTED}), S.STATION_RESPONDED),
    Action.ESCALATE: (NOT_CLOSED, S.ESCALATED),
    Action.CLOSE: (NOT_CLOSED, S.CLOSED),
}


@dataclass(frozen=True, slots=True)
class UpsertResult:
    warning: Warning_
    created: bool


def dedup_key(rule_id: str, station: str, subject: str) -> str:
    """Subjects are named within a station ("tank:2"), so the station is part of the key."""
    return f"{rule_id}:{station}:{subject}"


def open_warning(session: Session, rule_id: str, station: str, subject: str) -> Warning_ | None:
    """The not-closed warning of this rule, station and subject, if any."""
    return session.scalar(
        select(Warning_).where(
            Warning_.dedup_key == dedup_key(rule_id, station, subject),
            Warning_.state != S.CLOSED,
        )
    )


def _event(
    warning: Warning_,
    *,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str,
    note: str = "",
    data: dict[str, Any] | None = None,
    user_id: int | None = None,
    at: datetime | None = None,
) -> WarningEvent:
    event = WarningEvent(
        at=at or utcnow(),
        actor=actor,
        user_id=user_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data or {},
    )
    # The alert rides on the event: same flush, same transaction, or neither (docs/alerts.md).
    event.outbox = outbox_entry(warning, event)
    warning.events.append(event)
    return event


def upsert_warning(
    session: Session,
    *,
    rule_id: str,
    category: Category | str,
    severity: Severity | str,
    station: str,
    subject: str,
    title_zh: str,
    title_en: str,
    message_zh: str = "",
    message_en: str = "",
    evidence: dict[str, Any] | None = None,
    seen_at: datetime | None = None,
) -> UpsertResult:
    """Open a warning for ``rule_id`` + ``subject``, or update the one still open.

    ``evidence`` is JSON: the window, the numbers, the query text, references to the records
    (e.g. ``{"window": [start, end], "values": {...}, "query": "...", "records": [...]}``).
    The caller commits; concurrent engines racing on the same key end up with one warning.
    """
    try:
        category, severity = Category(category), Severity(severity)
    except ValueError as exc:
        raise WorkflowError(str(exc)) from exc
    if not rule_id or not subject or len(subject) > 128 or len(rule_id) > 64:
        raise WorkflowError("rule_id (1-64 characters) and subject (1-128) are required")
    row = session.get(Station, station)
    if row is None:
        raise WorkflowError(f"station {station} is not registered")
    at = seen_at or utcnow()
    for _attempt in range(2):
        existing = open_warning(session, rule_id, station, subject)
        if existing is not None:
            _update(existing, severity, title_zh, title_en, message_zh, message_en, evidence, at)
            session.flush()
            return UpsertResult(existing, created=False)
        warning = Warning_(
            dedup_key=dedup_key(rule_id, station, subject),
            rule_id=rule_id,
            category=category.value,
            severity=severity.value,
            district_id=row.district_id,
            station_id=row.id,
            subject=subject,
            title_zh=title_zh,
            title_en=title_en,
            message_zh=message_zh,
            message_en=message_en,
            evidence=evidence or {},
            first_seen=at,
            last_seen=at,
            occurrences=1,
            state=S.OPEN.value,
            escalation_level=0,
            resolution="",
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        _event(
            warning, actor=ENGINE_ACTOR, action="opened", from_state=None, to_state=S.OPEN, at=at
        )
        try:
            with session.begin_nested():
                session.add(warning)
        except IntegrityError:
            continue  # another engine opened it first: update that one
        return UpsertResult(warning, created=True)
    raise WorkflowError(f"cannot store warning {dedup_key(rule_id, station, subject)}")


def _update(
    warning: Warning_,
    severity: Severity,
    title_zh: str,
    title_en: str,
    message_zh: str,
    message_en: str,
    evidence: dict[str, Any] | None,
    at: datetime,
) -> None:
    warning.last_seen = max(warning.last_seen, at)
    warning.occurrences += 1
    if evidence is not None:
        warning.evidence = evidence
    warning.title_zh, warning.title_en = title_zh, title_en
    warning.message_zh, warning.message_en = message_zh, message_en
    raised = SEVERITY_ORDER[severity] > SEVERITY_ORDER[Severity(warning.severity)]
    if raised:
        previous, warning.severity = warning.severity, severity.value  # before the event:
        _event(  # its alert snapshot shows the new severity
            warning,
            actor=ENGINE_ACTOR,
            action="severity_raised",
            from_state=warning.state,
            to_state=warning.state,
            data={"from": previous, "to": severity.value},
            at=at,
        )
    if warning.cleared_at is not None:
        warning.cleared_at = None
        _event(
            warning,
            actor=ENGINE_ACTOR,
            action="recurred",
            from_state=warning.state,
            to_state=warning.state,
            at=at,
        )
    warning.updated_at = utcnow()


def resolve_warning(
    session: Session,
    *,
    rule_id: str,
    station: str,
    subject: str,
    at: datetime | None = None,
    note: str = "",
) -> Warning_ | None:
    """The rule no longer sees the condition: mark the open warning cleared (idempotent)."""
    warning = open_warning(session, rule_id, station, subject)
    if warning is None or warning.cleared_at is not None:
        return warning
    warning.cleared_at = at or utcnow()
    warning.updated_at = utcnow()
    _event(
        warning,
        actor=ENGINE_ACTOR,
        action="cleared",
        from_state=warning.state,
        to_state=warning.state,
        note=note,
        at=warning.cleared_at,
    )
    session.flush()
    return warning


def transition(
    session: Session,
    warning: Warning_,
    action: Action | str,
    *,
    actor: str,
    user_id: int | None = None,
    note: str = "",
    assignee_id: int | None = None,
    due: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> WarningEvent:
    """Apply a workflow action; raise ``WorkflowError`` when the state does not allow it."""
    action = Action(action)
    allowed_from, to_state = TRANSITIONS[action]
    current = State(warning.state)
    if current not in allowed_from:
        raise WorkflowError(f"cannot {action.value} a warning that is {current.value}")
    target = to_state or current
    extra = dict(data or {})
    if action is Action.ASSIGN:
        warning.assignee_id = assignee_id
        extra["assignee_id"] = assignee_id
    elif action is Action.REQUEST_RECTIFICATION:
        warning.rectification_due = due
        extra["due"] = due.isoformat() if due else None
    elif action is Action.ESCALATE:
        warning.escalation_level += 1
        extra["level"] = warning.escalation_level
    elif action is Action.CLOSE:
        if not note.strip():
            raise WorkflowError("closing a warning needs a resolution note")
        warning.resolution = note
        warning.closed_at = utcnow()
    warning.state = target.value
    warning.updated_at = utcnow()
    event = _event(
        warning,
        actor=actor,
        user_id=user_id,
        action=action.value,
        from_state=current.value,
        to_state=target.value,
        note=note,
        data=extra,
    )
    session.flush()
    return event


def add_comment(
    session: Session,
    warning: Warning_,
    *,
    author: str,
    body: str,
    user_id: int | None = None,
    internal: bool = False,
) -> WarningComment:
    if not body.strip():
        raise WorkflowError("a comment needs text")
    comment = WarningComment(
        at=utcnow(), author=author, user_id=user_id, body=body, internal=internal
    )
    warning.comments.append(comment)
    warning.updated_at = utcnow()
    session.flush()
    return comment
