"""Rule settings: the engine registers, the API changes (validated), the engine reports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fuelwatch.cloud.rules import store
from fuelwatch.cloud.rules.store import RuleError
from fuelwatch.cloud.store.models.rules import ThresholdSpec
from tests.api.conftest import ApiEnv
from tests.api.world import T0

SPECS = {
    "variance_percent": ThresholdSpec(min=0.05, max=10, unit="%", description="of throughput"),
    "min_volume_l": ThresholdSpec(type="integer", min=0, max=100_000, unit="L"),
    "include_water": ThresholdSpec(type="boolean"),
}


def _register(api: ApiEnv) -> None:
    with api.sessions.begin() as session:
        store.register_rule(
            session,
            rule_id="wetstock_variance",
            category="inventory_reconciliation",
            thresholds={"variance_percent": 1.0, "min_volume_l": 500, "include_water": False},
            specs=SPECS,
            name_zh="进销存差异",
            name_en="Wetstock variance",
        )


def test_engine_api_round_trip(api: ApiEnv) -> None:
    _register(api)
    officer, supervisor = api.as_user("officer1"), api.as_user("super1")
    rules = api.client.get("/api/v1/rules", headers=officer).json()
    assert [r["id"] for r in rules] == ["wetstock_variance"]
    assert rules[0]["category_zh"] == "进销存闭环校验"
    assert rules[0]["threshold_specs"]["variance_percent"]["unit"] == "%"
    path = "/api/v1/rules/wetstock_variance"
    assert api.client.patch(path, json={"enabled": False}, headers=officer).status_code == 403
    r = api.client.patch(
        path,
        json={"thresholds": {"variance_percent": 50, "min_volume_l": 2.5, "colour": 1}},
        headers=supervisor,
    )
    assert r.status_code == 422
    assert r.json()["detail"] == [
        "colour: unknown threshold",
        "variance_percent: 50 is above the maximum 10",
        "min_volume_l: must be an integer",
    ]
    r = api.client.patch(
        path,
        json={"enabled": False, "thresholds": {"variance_percent": 0.5, "min_volume_l": 800.0}},
        headers=supervisor,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["enabled"] is False
    assert body["thresholds"] == {
        "variance_percent": 0.5,
        "min_volume_l": 800,
        "include_water": False,
    }
    assert body["updated_by"] == "super1"
    assert api.client.get("/api/v1/rules/nope", headers=officer).status_code == 404

    with api.sessions.begin() as session:
        rule = store.get_rule(session, "wetstock_variance")
        assert (rule.enabled, rule.thresholds["min_volume_l"]) == (False, 800)
        store.record_evaluation(
            session,
            "wetstock_variance",
            result="fired",
            detail={"warnings": 2},
            duration_ms=35.5,
            at=T0 + timedelta(minutes=5),
        )
    body = api.client.get(path, headers=officer).json()
    assert (body["last_result"], body["last_detail"], body["last_duration_ms"]) == (
        "fired",
        {"warnings": 2},
        35.5,
    )
    assert body["last_evaluated_at"].startswith("2026-11-01T08:05:00")
    # the engine restarts: the operator's settings stay
    _register(api)
    with api.sessions() as session:
        assert store.get_rule(session, "wetstock_variance").thresholds["variance_percent"] == 0.5
        assert [r.id for r in store.list_rules(session, enabled=True)] == []


def test_register_refuses_defaults_that_break_their_specs(api: ApiEnv) -> None:
    with pytest.raises(RuleError, match="below the minimum"), api.sessions.begin() as session:
        store.register_rule(
            session,
            rule_id="bad",
            category="dispenser",
            thresholds={"variance_percent": 0.0, "min_volume_l": 1, "include_water": True},
            specs=SPECS,
        )
