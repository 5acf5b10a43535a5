"""Rule settings: which rules run, with which thresholds, and how their last run went.

The rule engine owns the rules; this table owns their settings. The engine calls
``register_rule`` at start (adds a new rule with its defaults and threshold specs, keeps an
operator's settings of a known one), reads ``get_rule`` / ``list_rules`` before evaluating,
and ``record_evaluation`` after. The API changes ``enabled`` and ``thresholds`` through
``set_enabled`` and ``set_thresholds``, which validate every value against the rule's specs.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from fuelwatch.cloud.common.categories import Category
from fuelwatch.cloud.store.models.rules import Rule, ThresholdSpec
from fuelwatch.core.timeutil import utcnow

__all__ = [
    "RuleError",
    "get_rule",
    "list_rules",
    "record_evaluation",
    "register_rule",
    "set_enabled",
    "set_thresholds",
    "validate_thresholds",
]

Threshold = float | int | bool


class RuleError(ValueError):
    """A rule that does not exist, or settings it cannot take; ``problems`` names each field."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message if not problems else f"{message}: {'; '.join(problems)}")
        self.problems = problems or []


def _check_value(name: str, value: Any, spec: ThresholdSpec) -> str | None:
    if spec.type == "boolean":
        return None if isinstance(value, bool) else f"{name}: must be true or false"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name}: must be a {spec.type}"
    if spec.type == "integer" and not (isinstance(value, int) or float(value).is_integer()):
        return f"{name}: must be an integer"
    if not math.isfinite(value):
        return f"{name}: must be finite"
    if spec.min is not None and value < spec.min:
        return f"{name}: {value} is below the minimum {spec.min:g}"
    if spec.max is not None and value > spec.max:
        return f"{name}: {value} is above the maximum {spec.max:g}"
    return None


def validate_thresholds(
    values: dict[str, Any], specs: dict[str, ThresholdSpec]
) -> dict[str, Threshold]:
    problems = [f"{k}: unknown threshold" for k in values if k not in specs]
    problems += [p for k, v in values.items() if k in specs and (p := _check_value(k, v, specs[k]))]
    if problems:
        raise RuleError("invalid thresholds", problems)
    return {
        k: int(v) if specs[k].type == "integer" and not isinstance(v, bool) else v
        for k, v in values.items()
    }


def register_rule(
    session: Session,
    *,
    rule_id: str,
    category: Category | str,
    thresholds: dict[str, Threshold],
    specs: dict[str, ThresholdSpec],
    name_zh: str = "",
    name_en: str = "",
    description: str = "",
    enabled: bool = True,
) -> Rule:
    """Add a rule with its default thresholds, or refresh a known rule's specs and texts.

    An operator's thresholds survive; a threshold the new specs no longer have is dropped,
    a new one takes its default, and a kept value that no longer fits is reset to default.
    """
    category = Category(category)
    defaults = validate_thresholds(thresholds, specs)
    if set(defaults) != set(specs):
        raise RuleError(f"rule {rule_id}: every threshold needs a default")
    spec_json = {k: s.model_dump() for k, s in specs.items()}
    rule = session.get(Rule, rule_id)
    if rule is None:
        rule = Rule(
            id=rule_id,
            category=category.value,
            enabled=enabled,
            thresholds=defaults,
            updated_by="rule-engine",
            updated_at=utcnow(),
            last_detail={},
        )
        session.add(rule)
    else:
        kept: dict[str, Threshold] = {}
        for k, default in defaults.items():
            value = rule.thresholds.get(k, default)
            kept[k] = value if _check_value(k, value, specs[k]) is None else default
        rule.thresholds = kept
        rule.category = category.value
    rule.name_zh, rule.name_en, rule.description = name_zh, name_en, description
    rule.threshold_specs = spec_json
    rule.defaults = defaults
    session.flush()
    return rule


def get_rule(session: Session, rule_id: str) -> Rule:
    rule = session.get(Rule, rule_id)
    if rule is None:
        raise RuleError(f"rule {rule_id} is not registered")
    return rule


def list_rules(session: Session, *, enabled: bool | None = None) -> list[Rule]:
    stmt = select(Rule).order_by(Rule.id)
    if enabled is not None:
        stmt = stmt.where(Rule.enabled.is_(enabled))
    return list(session.scalars(stmt))


def set_enabled(session: Session, rule_id: str, enabled: bool, *, actor: str) -> Rule:
    rule = get_rule(session, rule_id)
    rule.enabled = enabled
    rule.updated_by, rule.updated_at = actor, utcnow()
    return rule


def set_thresholds(session: Session, rule_id: str, values: dict[str, Any], *, actor: str) -> Rule:
    """Change some thresholds (the others stay); every value is checked against its spec."""
    rule = get_rule(session, rule_id)
    checked = validate_thresholds(values, rule.specs())
    rule.thresholds = {**rule.thresholds, **checked}
    rule.updated_by, rule.updated_at = actor, utcnow()
    return rule


def record_evaluation(
    session: Session,
    rule_id: str,
    *,
    result: Literal["ok", "fired", "error"],
    detail: dict[str, Any] | None = None,
    duration_ms: float | None = None,
    at: datetime | None = None,
) -> Rule:
    rule = get_rule(session, rule_id)
    rule.last_evaluated_at = at or utcnow()
    rule.last_result = result
    rule.last_detail = detail or {}
    rule.last_duration_ms = duration_ms
    return rule
