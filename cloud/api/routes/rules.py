"""Rule settings: list, enable/disable, thresholds (validated against each rule's specs),
and how each rule's last evaluation went."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api.deps import SessionDep, allow
from fuelwatch.cloud.common.categories import Category
from fuelwatch.cloud.rules import store
from fuelwatch.cloud.store.models.rules import Rule, ThresholdSpec

router = APIRouter(tags=["rules"])
Reader = Annotated[Principal, Depends(allow(Permission.RULE_READ))]
Writer = Annotated[Principal, Depends(allow(Permission.RULE_WRITE))]


class RuleOut(BaseModel):
    id: str
    category: str
    category_zh: str
    category_en: str
    name_zh: str
    name_en: str
    description: str
    enabled: bool
    thresholds: dict[str, Any]
    defaults: dict[str, Any]
    threshold_specs: dict[str, ThresholdSpec]
    updated_at: datetime
    updated_by: str
    last_evaluated_at: datetime | None
    last_result: str | None
    last_detail: dict[str, Any]
    last_duration_ms: float | None


class RulePatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"enabled": True, "thresholds": {"alpha": 0.001, "meter_mpe_percent": 0.3}}
            ]
        }
    )

    enabled: bool | None = None
    thresholds: dict[str, float | int | bool] | None = Field(
        default=None, description="only the thresholds to change; each is checked"
    )


def _out(rule: Rule) -> RuleOut:
    category = Category(rule.category)
    return RuleOut(
        id=rule.id,
        category=rule.category,
        category_zh=category.label_zh,
        category_en=category.label_en,
        name_zh=rule.name_zh,
        name_en=rule.name_en,
        description=rule.description,
        enabled=rule.enabled,
        thresholds=rule.thresholds,
        defaults=rule.defaults,
        threshold_specs=rule.specs(),
        updated_at=rule.updated_at,
        updated_by=rule.updated_by,
        last_evaluated_at=rule.last_evaluated_at,
        last_result=rule.last_result,
        last_detail=rule.last_detail,
        last_duration_ms=rule.last_duration_ms,
    )


@router.get("/rules", summary="Rules with their settings and last evaluation")
def list_rules(session: SessionDep, _: Reader, enabled: bool | None = None) -> list[RuleOut]:
    return [_out(r) for r in store.list_rules(session, enabled=enabled)]


@router.get("/rules/{rule_id}", summary="One rule")
def get_rule(session: SessionDep, _: Reader, rule_id: str) -> RuleOut:
    return _out(store.get_rule(session, rule_id))


@router.patch("/rules/{rule_id}", summary="Enable/disable a rule or change its thresholds")
def patch_rule(session: SessionDep, principal: Writer, rule_id: str, body: RulePatch) -> RuleOut:
    rule = store.get_rule(session, rule_id)
    if body.thresholds is not None:
        store.set_thresholds(session, rule_id, body.thresholds, actor=principal.actor)
    if body.enabled is not None:
        store.set_enabled(session, rule_id, body.enabled, actor=principal.actor)
    session.commit()
    return _out(rule)
