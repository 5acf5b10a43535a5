"""The outbox row is written in the same transaction as the warning event, or not at all."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.store.db import make_sessionmaker
from fuelwatch.cloud.store.models.alerts import AlertOutbox
from fuelwatch.cloud.store.models.warnings import Warning_, WarningEvent
from fuelwatch.cloud.store.registry import ensure_station
from fuelwatch.cloud.warnings.service import resolve_warning, transition, upsert_warning


def _counts(engine: Engine) -> tuple[int, int]:
    with make_sessionmaker(engine)() as s:
        return (
            s.scalar(select(func.count()).select_from(WarningEvent)) or 0,
            s.scalar(select(func.count()).select_from(AlertOutbox)) or 0,
        )


def _open(session: object, severity: str = "medium") -> object:
    return upsert_warning(
        session,  # type: ignore[arg-type]
        rule_id="r1",
        category="totalizer_tampering",
        severity=severity,
        station="S1",
        subject="nozzle:3",
        title_zh="3号枪泵码跳变",
        title_en="Nozzle 3 totalizer jump",
        evidence={"value": 12.5, "driver_phone": "13812345678", "records": [{"rid": 1}]},
    ).warning


class Boom(Exception):
    pass


def _fails_after(sessions: sessionmaker[Session], change: Callable[[Session], object]) -> int:
    """Make ``change`` in a transaction that then fails; return the outbox rows seen inside."""
    seen: list[int] = []
    with pytest.raises(Boom), sessions.begin() as session:  # noqa: PT012 - the transaction
        change(session)
        session.flush()
        seen.append(session.scalar(select(func.count()).select_from(AlertOutbox)) or 0)
        raise Boom
    return seen[0]


def test_rolled_back_transition_leaves_neither_event_nor_outbox(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        ensure_station(session, district="d1", station="S1")
        warning = _open(session)
    assert _counts(engine) == (1, 1)

    def acknowledge(session: Session) -> None:
        w = session.get(Warning_, warning.id)  # type: ignore[attr-defined]
        transition(session, w, "acknowledge", actor="officer1")  # type: ignore[arg-type]

    assert _fails_after(sessions, acknowledge) == 2  # both existed inside the transaction
    assert _counts(engine) == (1, 1)  # and neither after the rollback


def test_rolled_back_new_warning_leaves_neither(
    engine: Engine, request: pytest.FixtureRequest
) -> None:
    if engine.dialect.name == "sqlite":
        # upsert_warning inserts a new warning inside SAVEPOINT; the sqlite3 driver has not
        # begun a transaction by then, so the SAVEPOINT opens one and its RELEASE commits it.
        # The warning, its event and the outbox row stay together, but outlive the rollback.
        request.applymarker(
            pytest.mark.xfail(strict=True, reason="sqlite3 driver: SAVEPOINT release commits")
        )
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        ensure_station(session, district="d1", station="S1")
    assert _fails_after(sessions, _open) == 1
    assert _counts(engine) == (0, 0)


def test_every_event_gets_one_outbox_row_with_its_snapshot(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        ensure_station(session, district="d1", station="S1")
    with sessions.begin() as session:
        w = _open(session)
        _open(session, severity="critical")  # update: severity_raised
        resolve_warning(session, rule_id="r1", station="S1", subject="nozzle:3")
        transition(session, w, "acknowledge", actor="officer1")  # type: ignore[arg-type]
    events, rows = _counts(engine)
    assert events == rows == 4
    with sessions() as session:
        pairs = session.execute(
            select(WarningEvent.action, AlertOutbox.payload, AlertOutbox.severity)
            .join(AlertOutbox, AlertOutbox.event_id == WarningEvent.id)
            .order_by(WarningEvent.id)
        ).all()
    actions = [a for a, _, _ in pairs]
    assert actions == ["opened", "severity_raised", "cleared", "acknowledge"]
    opened, raised, cleared, acked = (p for _, p, _ in pairs)
    assert opened["severity"] == "medium"
    assert raised["severity"] == "critical"  # the snapshot shows the raised severity
    assert opened["cleared_at"] is None
    assert cleared["cleared_at"] is not None
    assert (acked["from_state"], acked["state"]) == ("open", "acknowledged")
    assert opened["category"] == {
        "code": "totalizer_tampering",
        "label_zh": "泵码篡改",
        "label_en": "Totalizer tampering",
    }
    # Evidence leaves masked and without raw records.
    assert opened["evidence_summary"] == {
        "value": 12.5,
        "driver_phone": "138****5678",
        "records_count": 1,
    }
