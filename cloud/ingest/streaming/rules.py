"""The streaming rules: ids, labels, severities and operator-tunable thresholds.

Registered in the rule settings table (``fuelwatch.cloud.rules.store``) when ingest starts, so the
management API lists them and an operator changes their thresholds or disables them like any
scheduled rule. The checker re-reads the settings on every tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from fuelwatch.cloud.common.categories import Category, Severity
from fuelwatch.cloud.rules.store import register_rule
from fuelwatch.cloud.store.models.rules import Rule, ThresholdSpec

__all__ = [
    "AUTH_REASONS",
    "STREAMING_RULES",
    "RuleDef",
    "RuleSettings",
    "read_settings",
    "register_streaming_rules",
]

SIGNATURE_FAILURE = "cloud_data.signature_failure"
REJECTED_DATA = "cloud_data.rejected_data"
GATEWAY_OFFLINE = "cloud_data.gateway_offline"
GATEWAY_SILENT = "cloud_data.gateway_silent"
SEQUENCE_GAP = "cloud_data.sequence_gap"
CLOCK_SKEW = "cloud_data.clock_skew"

#: Rejection reasons that mean "not provably from this station's gateway".
AUTH_REASONS = frozenset(
    {"bad_signature", "unknown_key", "revoked_key", "unknown_gateway", "topic_mismatch"}
)


@dataclass(frozen=True, slots=True)
class RuleDef:
    id: str
    name_zh: str
    name_en: str
    description: str
    severity: Severity
    defaults: dict[str, float | int]
    specs: dict[str, ThresholdSpec] = field(default_factory=dict)


def _int(lo: float, unit: str, text: str) -> ThresholdSpec:
    return ThresholdSpec(type="integer", min=lo, unit=unit, description=text)


STREAMING_RULES: tuple[RuleDef, ...] = (
    RuleDef(
        SIGNATURE_FAILURE,
        "签名校验失败",
        "Signature verification failures",
        "Messages on a station's topic that fail authentication (bad signature, unknown or "
        "revoked key, unknown gateway, another station's gateway).",
        Severity.HIGH,
        {"min_failures": 1, "window_seconds": 300},
        {
            "min_failures": _int(1, "messages", "failures within the window that raise it"),
            "window_seconds": _int(1, "s", "counting window; quiet this long clears it"),
        },
    ),
    RuleDef(
        REJECTED_DATA,
        "数据被拒收",
        "Rejected data",
        "Authenticated-or-not messages refused for their content: malformed, schema, too "
        "large, stale, implausible values or times, refused by the store.",
        Severity.MEDIUM,
        {"min_rejections": 3, "window_seconds": 300},
        {
            "min_rejections": _int(1, "messages", "rejections within the window that raise it"),
            "window_seconds": _int(1, "s", "counting window; quiet this long clears it"),
        },
    ),
    RuleDef(
        GATEWAY_OFFLINE,
        "网关离线",
        "Gateway offline",
        "The gateway's MQTT Will (or a clean offline status) arrived and no online status "
        "followed within the grace period.",
        Severity.HIGH,
        {"grace_seconds": 120},
        {"grace_seconds": _int(0, "s", "offline this long before the warning")},
    ),
    RuleDef(
        GATEWAY_SILENT,
        "网关静默",
        "Gateway silent",
        "No message at all from a gateway that published before (no data, no status, no Will).",
        Severity.HIGH,
        {"silent_seconds": 600},
        {"silent_seconds": _int(1, "s", "silence this long raises it")},
    ),
    RuleDef(
        SEQUENCE_GAP,
        "报文序号缺失",
        "Envelope sequence gap",
        "Envelope sequence numbers below the gateway's high-water mark that never arrived.",
        Severity.MEDIUM,
        {"min_missing": 1, "min_age_seconds": 300},
        {
            "min_missing": _int(1, "messages", "missing sequence numbers that raise it"),
            "min_age_seconds": _int(0, "s", "a hole must be this old (late arrivals fill it)"),
        },
    ),
    RuleDef(
        CLOCK_SKEW,
        "时钟偏差",
        "Clock skew",
        "The gateway's clock (envelope sent time) differs from the cloud's receive time, or a "
        "device's clock (record ts) from the gateway's when it read the record (gts).",
        Severity.MEDIUM,
        {"skew_seconds": 300, "window_seconds": 120, "min_samples": 3},
        {
            "skew_seconds": _int(1, "s", "|offset| beyond this is skew"),
            "window_seconds": _int(1, "s", "offset = least delay over this window; held as long"),
            "min_samples": _int(1, "messages", "messages in the window needed to judge"),
        },
    ),
)


@dataclass(frozen=True, slots=True)
class RuleSettings:
    enabled: bool
    thresholds: Mapping[str, float]

    def __getitem__(self, name: str) -> float:
        return float(self.thresholds[name])


def register_streaming_rules(session: Session) -> list[Rule]:
    """Add the streaming rules with their defaults (an operator's settings are kept)."""
    return [
        register_rule(
            session,
            rule_id=d.id,
            category=Category.CLOUD_DATA,
            thresholds=dict(d.defaults),
            specs=d.specs,
            name_zh=d.name_zh,
            name_en=d.name_en,
            description=d.description,
        )
        for d in STREAMING_RULES
    ]


def read_settings(session: Session) -> dict[str, RuleSettings]:
    out: dict[str, RuleSettings] = {}
    for d in STREAMING_RULES:
        rule = session.get(Rule, d.id)
        if rule is None:
            out[d.id] = RuleSettings(enabled=True, thresholds=dict(d.defaults))
        else:
            out[d.id] = RuleSettings(rule.enabled, {**d.defaults, **rule.thresholds})
    return out
