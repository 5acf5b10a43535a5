"""Rule definitions: the YAML files under ``cloud/rules/definitions`` as typed models.

A file holds ``rules: [...]``; each rule names its category, schedule, window, the InfluxQL
queries it runs (templates), the detector that judges the results, its thresholds (default +
spec) and its messages in Chinese and English. Loading checks everything a typo could break
(unknown detector, unknown placeholder, a message naming a value nobody provides) and says
which file, line, rule and field is wrong.
"""

from __future__ import annotations

import re
import string
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fuelwatch.cloud.common.categories import Category, Severity
from fuelwatch.cloud.store.models.rules import ThresholdSpec
from fuelwatch.core.config import ConfigError, load_yaml, validate_yaml_model

__all__ = [
    "DEFINITIONS_DIR",
    "PLACEHOLDERS",
    "RuleDefinition",
    "ThresholdDef",
    "load_definitions",
    "parse_duration",
]

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
#: what a query template may name: the window's ends and the evaluation time (RFC 3339 time
#: literals), the window length as an InfluxQL duration, and the registered stations.
PLACEHOLDERS = frozenset({"start", "end", "now", "window", "station_filter"})
RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_duration(text: str | float) -> timedelta:
    """``"30d"``, ``"6h"``, ``"15m"``, ``"1d12h"`` or a number of seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return timedelta(seconds=text)
    match = _DURATION.match(str(text).strip())
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 15m, 6h, 1d or 1d12h")
    d, h, m = (int(g or 0) for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m)


class ThresholdDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: float | int | bool
    spec: ThresholdSpec = ThresholdSpec()


class Messages(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class RuleDefinition(BaseModel):
    """One rule as written in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(max_length=64)
    category: Category
    severity: Severity = Severity.MEDIUM
    name: Messages
    description: str = ""
    enabled: bool = True
    schedule: str = Field(description="evaluate every this long, e.g. 15m")
    window: str = Field(description="how far back the queries look from now, e.g. 1d")
    lag: str = Field(default="0m", description="the window ends this long before now")
    detector: str
    queries: dict[str, str] = Field(default_factory=dict)
    thresholds: dict[str, ThresholdDef] = Field(default_factory=dict)
    station_batch: int | None = Field(
        default=None, ge=1, le=10_000, description="query this many stations at a time"
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="fixed detector parameters that are not thresholds"
    )
    message: Messages

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RULE_ID.match(value):
            raise ValueError("must be dotted lower-case words, e.g. dispenser.over_registration")
        return value

    @field_validator("schedule", "window", "lag")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("queries")
    @classmethod
    def _queries(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            unknown = names - PLACEHOLDERS
            if unknown:
                raise ValueError(
                    f"query {name}: unknown placeholder {{{min(unknown)}}}"
                    f" (known: {', '.join(sorted(PLACEHOLDERS))})"
                )
            if "{end}" not in text:
                raise ValueError(f"query {name}: must bound time by {{end}} (causal windows)")
        return value

    @field_validator("detector")
    @classmethod
    def _known_detector(cls, value: str) -> str:
        from fuelwatch.cloud.rules.detectors import DETECTORS  # noqa: PLC0415 - the registry imports us

        if value not in DETECTORS:
            raise ValueError(f"unknown detector {value!r} (known: {', '.join(sorted(DETECTORS))})")
        return value

    @model_validator(mode="after")
    def _detector(self) -> RuleDefinition:
        from fuelwatch.cloud.rules.detectors import DETECTORS  # noqa: PLC0415 - the registry imports us

        detector = DETECTORS[self.detector]
        missing = set(detector.queries) - set(self.queries)
        if missing:
            raise ValueError(
                f"detector {self.detector} needs queries: {', '.join(sorted(missing))}"
            )
        missing = set(detector.thresholds) - set(self.thresholds)
        if missing:
            raise ValueError(
                f"detector {self.detector} needs thresholds: {', '.join(sorted(missing))}"
            )
        return self

    @property
    def every(self) -> timedelta:
        return parse_duration(self.schedule)

    @property
    def span(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def delay(self) -> timedelta:
        return parse_duration(self.lag)

    def defaults(self) -> dict[str, float | int | bool]:
        return {k: t.default for k, t in self.thresholds.items()}

    def specs(self) -> dict[str, ThresholdSpec]:
        return {k: t.spec for k, t in self.thresholds.items()}


def _load_file(path: Path) -> list[RuleDefinition]:
    data, node = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ConfigError(path, [f"{path}: expected a mapping with a list under 'rules'"])
    items = node.value if isinstance(node, yaml.MappingNode) else []
    rules_node = next((v for k, v in items if getattr(k, "value", None) == "rules"), None)
    entries = rules_node.value if isinstance(rules_node, yaml.SequenceNode) else []
    out: list[RuleDefinition] = []
    problems: list[str] = []
    for i, raw in enumerate(data["rules"]):
        rule_id = raw.get("id", f"#{i}") if isinstance(raw, dict) else f"#{i}"
        sub = entries[i] if i < len(entries) else None
        try:
            out.append(validate_yaml_model(RuleDefinition, raw, sub, path))
        except ConfigError as exc:
            for problem in exc.problems:  # "file:line: field: message" -> with the rule id
                where, _, rest = problem.partition(": ")
                rest = rest.removeprefix("(top level): ")
                problems.append(f"{where}: rule {rule_id}: {rest}")
    if problems:
        raise ConfigError(path, problems)
    return out


def load_definitions(paths: list[Path] | None = None) -> list[RuleDefinition]:
    """Every rule of the given YAML files (default: all of ``definitions/``), ids unique."""
    files = paths if paths is not None else sorted(DEFINITIONS_DIR.glob("*.yaml"))
    rules: list[RuleDefinition] = []
    seen: dict[str, Path] = {}
    for path in files:
        for rule in _load_file(path):
            if rule.id in seen:
                raise ConfigError(
                    path, [f"{path}: rule {rule.id}: id already used in {seen[rule.id]}"]
                )
            seen[rule.id] = path
            rules.append(rule)
    return rules
