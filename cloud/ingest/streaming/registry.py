"""The checker's registry I/O: settings, shared gateway state, open warnings, and applying
decisions. Called from the checker's own thread, never from the event loop."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.common.categories import Category
from fuelwatch.cloud.ingest.sequence import SeqWindow
from fuelwatch.cloud.ingest.streaming.actions import Action, Clear, Raise, to_datetime
from fuelwatch.cloud.ingest.streaming.gaps import SequenceState
from fuelwatch.cloud.ingest.streaming.presence import GatewayPresence
from fuelwatch.cloud.ingest.streaming.rules import STREAMING_RULES, RuleSettings, read_settings
from fuelwatch.cloud.rules.store import record_evaluation
from fuelwatch.cloud.store.models.registry import Gateway, GatewayKey, GatewaySequence, Station
from fuelwatch.cloud.store.models.warnings import Warning_
from fuelwatch.cloud.warnings.service import WorkflowError, resolve_warning, upsert_warning

__all__ = ["Applied", "RegistrySnapshot", "StreamingRegistry"]

LOGGER = logging.getLogger("fuelwatch.cloud.ingest.streaming")
LOCK_TIMEOUT = "30s"


@dataclass(slots=True)
class RegistrySnapshot:
    settings: dict[str, RuleSettings]
    presence: dict[str, GatewayPresence]
    sequences: list[SequenceState]


@dataclass(slots=True)
class Applied:
    raised: int = 0
    cleared: int = 0
    by_rule: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, raised|cleared)
    unknown_stations: set[str] = field(default_factory=set)


class StreamingRegistry:
    def __init__(self, sessions: sessionmaker[Session], *, district: str = "+") -> None:
        self._sessions = sessions
        self._district = district

    def open_warnings(self) -> list[tuple[str, str, str]]:
        """(rule, station, subject) of this checker's warnings that are open and not cleared."""
        ids = [d.id for d in STREAMING_RULES]
        with self._sessions() as session:
            query = select(Warning_.rule_id, Warning_.station_id, Warning_.subject).where(
                Warning_.rule_id.in_(ids),
                Warning_.state != "closed",
                Warning_.cleared_at.is_(None),
            )
            if self._district != "+":
                query = query.where(Warning_.district_id == self._district)
            return [(r, s, subj) for r, s, subj in session.execute(query)]

    def snapshot(self) -> RegistrySnapshot:
        with self._sessions() as session:
            settings = read_settings(session)
            query = (
                select(Gateway.id, Gateway.station_id, GatewaySequence)
                .join(Station, Station.id == Gateway.station_id)
                .outerjoin(GatewaySequence, GatewaySequence.gateway_id == Gateway.id)
                .where(Station.status == "active")
                # a gateway whose keys are all revoked is retired (re-provisioned under a new
                # id): its silence and its holes are expected
                .where(
                    exists().where(
                        GatewayKey.gateway_id == Gateway.id, GatewayKey.revoked_at.is_(None)
                    )
                )
            )
            if self._district != "+":
                query = query.where(Station.district_id == self._district)
            presence: dict[str, GatewayPresence] = {}
            sequences: list[SequenceState] = []
            for gw, station, seq in session.execute(query):
                last = int(seq.updated_at.timestamp() * 1000) if seq and seq.updated_at else None
                presence[gw] = GatewayPresence(gw, station, last)
                if seq is not None:
                    window = SeqWindow.load(seq.hwm or 0, seq.holes)
                    sequences.append(SequenceState(gw, station, window.hwm, window.holes))
            return RegistrySnapshot(settings, presence, sequences)

    def apply(self, actions: list[Action]) -> Applied:
        out = Applied()
        if not actions:
            return out
        with self._sessions.begin() as session:
            if session.get_bind().dialect.name == "sqlite":
                # take the write lock first: a read-then-upgrade would fail at once when busy
                # (the busy timeout, 30 s, bounds the wait)
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            else:
                # bound the wait on a locked table: the round fails, is retried next time,
                # and ingest can stop without waiting for this thread forever
                session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            known: dict[str, bool] = {}
            for action in actions:
                if action.station not in known:
                    known[action.station] = session.get(Station, action.station) is not None
                if not known[action.station]:
                    out.unknown_stations.add(action.station)
                    continue
                try:
                    if isinstance(action, Raise):
                        upsert_warning(
                            session,
                            rule_id=action.rule_id,
                            category=Category.CLOUD_DATA,
                            severity=action.severity,
                            station=action.station,
                            subject=action.subject,
                            title_zh=action.title_zh,
                            title_en=action.title_en,
                            message_zh=action.message_zh,
                            message_en=action.message_en,
                            evidence=action.evidence,
                            seen_at=to_datetime(action.seen_ms) if action.seen_ms else None,
                        )
                        out.raised += 1
                        out.by_rule[action.rule_id, "raised"] += 1
                    elif isinstance(action, Clear):
                        resolve_warning(
                            session,
                            rule_id=action.rule_id,
                            station=action.station,
                            subject=action.subject,
                            at=to_datetime(action.at_ms),
                            note=action.note,
                        )
                        out.cleared += 1
                        out.by_rule[action.rule_id, "cleared"] += 1
                except WorkflowError as exc:
                    LOGGER.error("streaming: cannot store %s: %s", action, exc)
        return out

    def record(self, details: dict[str, dict[str, Any]], *, duration_ms: float, at_ms: int) -> None:
        """Each streaming rule's recent activity as its last evaluation (shown by the API)."""
        with self._sessions.begin() as session:
            for rule_id, detail in details.items():
                record_evaluation(
                    session,
                    rule_id,
                    result="fired" if detail.get("raised") else "ok",
                    detail=detail,
                    duration_ms=duration_ms,
                    at=to_datetime(at_ms),
                )
