"""Warning lifecycle (the service the rule engine calls) and the handling workflow over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from fuelwatch.cloud.store.models.warnings import Warning_
from fuelwatch.cloud.warnings.service import (
    WorkflowError,
    open_warning,
    resolve_warning,
    transition,
    upsert_warning,
)
from tests.api.conftest import ApiEnv
from tests.api.world import T0


def _upsert(session, **over):  # type: ignore[no-untyped-def]
    args = {
        "rule_id": "totalizer_jump",
        "category": "totalizer_tampering",
        "severity": "medium",
        "station": "S2",
        "subject": "nozzle:5",
        "title_zh": "5号枪泵码跳变",
        "title_en": "nozzle 5 totalizer jump",
        "evidence": {"jump_l": 12.0},
        "seen_at": T0,
    } | over
    return upsert_warning(session, **args)


def test_upsert_deduplicates_until_closed_and_resolve_clears(api: ApiEnv) -> None:
    with api.sessions.begin() as session:
        first = _upsert(session)
        assert first.created
        again = _upsert(
            session, severity="critical", evidence={"jump_l": 40.0}, seen_at=T0 + timedelta(hours=1)
        )
        assert not again.created
        w = again.warning
        assert w.id == first.warning.id
        assert (w.occurrences, w.severity, w.evidence) == (2, "critical", {"jump_l": 40.0})
        assert w.first_seen == T0
        assert w.last_seen == T0 + timedelta(hours=1)
        # the same subject at another station is another warning
        assert _upsert(session, station="S1").created
        resolved = resolve_warning(
            session, rule_id="totalizer_jump", station="S2", subject="nozzle:5"
        )
        assert resolved is not None
        assert resolved.cleared_at is not None
        assert resolved.state == "open"  # a person closes it, not the rule
        assert _upsert(session).warning.cleared_at is None  # fires again: un-cleared
        transition(session, w, "close", actor="officer1", note="fixed")
        assert open_warning(session, "totalizer_jump", "S2", "nozzle:5") is None
        reopened = _upsert(session)
        assert reopened.created
        assert reopened.warning.id != w.id
        actions = [e.action for e in w.events]
        assert actions == ["opened", "severity_raised", "cleared", "recurred", "close"]
    with pytest.raises(WorkflowError, match="not registered"), api.sessions.begin() as session:
        _upsert(session, station="nowhere")
    with pytest.raises(WorkflowError), api.sessions.begin() as session:
        _upsert(session, category="astrology")


def test_one_open_warning_per_key_is_enforced_by_the_database(api: ApiEnv) -> None:
    from sqlalchemy.exc import IntegrityError  # noqa: PLC0415

    with api.sessions.begin() as session:
        w = _upsert(session).warning
        dup = Warning_(
            **{c.name: getattr(w, c.name) for c in Warning_.__table__.columns if c.name != "id"}
        )
        session.add(dup)
        with pytest.raises(IntegrityError), session.begin_nested():
            session.flush()


def test_regulator_and_station_handle_a_warning(api: ApiEnv) -> None:
    w = api.world.warnings["S1"]
    officer, station, supervisor = (
        api.as_user("officer1"),
        api.as_user("station1"),
        api.as_user("super1"),
    )
    base = f"/api/v1/warnings/{w}"
    listed = api.client.get(
        "/api/v1/warnings",
        params={"state": "open", "category": "inventory_reconciliation", "severity": "high"},
        headers=officer,
    ).json()
    assert {x["id"] for x in listed["items"]} == {
        api.world.warnings["S1"],
        api.world.warnings["S2"],
    }
    assert listed["items"][0]["category_zh"] == "进销存闭环校验"

    # the station cannot respond before it is asked to
    r = api.client.post(f"{base}/respond", data={"note": "早就修好了"}, headers=station)
    assert r.status_code == 409
    assert (
        api.client.post(f"{base}/acknowledge", json={"note": "收到"}, headers=officer).status_code
        == 200
    )
    r = api.client.post(
        f"{base}/assign", json={"assignee_id": api.world.user_ids["officer2"]}, headers=officer
    )
    assert r.status_code == 422  # officer2 cannot see S1
    r = api.client.post(
        f"{base}/assign", json={"assignee_id": api.world.user_ids["super1"]}, headers=officer
    )
    assert r.json()["assignee_id"] == api.world.user_ids["super1"]
    r = api.client.post(
        f"{base}/request-rectification",
        json={"note": "请说明1号罐液位下降原因", "due": "2026-12-01T00:00:00Z"},
        headers=supervisor,
    )
    assert r.json()["state"] == "rectification_requested"
    api.client.post(
        f"{base}/comments",
        json={"body": "internal: check the depot", "internal": True},
        headers=officer,
    )
    assert (
        api.client.post(
            f"{base}/comments", json={"body": "x", "internal": True}, headers=station
        ).status_code
        == 403
    )
    r = api.client.post(
        f"{base}/respond",
        data={"note": "油罐阀门渗漏已维修，附维修单"},
        files=[("files", ("repair.jpg", b"\xff\xd8 fake jpeg", "image/jpeg"))],
        headers=station,
    )
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["state"] == "station_responded"
    assert [c["internal"] for c in detail["comments"]] == []  # the station sees no internal comment
    att = detail["attachments"][0]
    assert (att["filename"], att["size"]) == ("repair.jpg", len(b"\xff\xd8 fake jpeg"))
    got = api.client.get(f"{base}/attachments/{att['id']}", headers=officer)
    assert got.content == b"\xff\xd8 fake jpeg"
    assert (
        api.client.get(
            f"{base}/attachments/{att['id']}", headers=api.as_user("station3")
        ).status_code
        == 404
    )

    assert (
        api.client.post(f"{base}/close", json={"resolution": " "}, headers=officer).status_code
        == 409
    )
    assert (
        api.client.post(f"{base}/escalate", json={"note": "x"}, headers=officer).status_code == 403
    )
    r = api.client.post(f"{base}/escalate", json={"note": "需要市局介入"}, headers=supervisor)
    assert (r.json()["state"], r.json()["escalation_level"]) == ("escalated", 1)
    r = api.client.post(f"{base}/close", json={"resolution": "维修属实，已复查"}, headers=officer)
    detail = r.json()
    assert detail["state"] == "closed"
    assert detail["resolution"] == "维修属实，已复查"
    trail = [(e["actor"], e["action"], e["from_state"], e["to_state"]) for e in detail["events"]]
    assert trail == [
        ("rule-engine", "opened", None, "open"),
        ("officer1", "acknowledge", "open", "acknowledged"),
        ("officer1", "assign", "acknowledged", "acknowledged"),
        ("super1", "request_rectification", "acknowledged", "rectification_requested"),
        ("station1", "respond", "rectification_requested", "station_responded"),
        ("super1", "escalate", "station_responded", "escalated"),
        ("officer1", "close", "escalated", "closed"),
    ]
    assert all(e["at"] for e in detail["events"])
    assert api.client.post(f"{base}/acknowledge", json={}, headers=officer).status_code == 409
    closed = api.client.get("/api/v1/warnings", params={"state": "closed"}, headers=officer).json()
    assert [x["id"] for x in closed["items"]] == [w]
    with api.sessions() as session:
        assert session.scalars(select(Warning_).where(Warning_.id == w)).one().closed_at is not None


def test_warning_list_filters_by_time(api: ApiEnv) -> None:
    headers = api.as_user("admin")
    after = (T0 + timedelta(minutes=1)).isoformat()
    r = api.client.get("/api/v1/warnings", params={"since": after}, headers=headers)
    assert r.json()["total"] == 0
    r = api.client.get(
        "/api/v1/warnings", params={"until": after, "district": "d2"}, headers=headers
    )
    assert [x["station"] for x in r.json()["items"]] == ["S3"]
    # a time without a zone is refused rather than guessed
    r = api.client.get("/api/v1/warnings", params={"since": "2026-11-01T00:00:00"}, headers=headers)
    assert r.status_code == 422
