"""Every warning category: a fraud scenario that must fire and the clean station that must not.

Data: the simulator's gateway feed in a real InfluxDB, the station in the registry, department
rows through the importer. Times are the simulated clock (2025-03-03 +08:00): two days, four
for the clean station and the 3-day statistical rules, eight for the leak.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from fuelwatch.cloud.common.categories import Category
from fuelwatch.cloud.rules import store
from fuelwatch.cloud.rules.definition import load_definitions
from fuelwatch.core.records import BaseRecord, TransactionRecord
from tests.rules.conftest import LOCAL, CleanWorld, declaration
from tests.rules.world import Simulated, evaluate, import_department, import_waybills, simulate
from tests.support.env import StackEnv

INCONCLUSIVE_ON_TWO_DAYS = {"reconciliation.leak_rate"}
RULES_BY_CATEGORY: dict[Category, list[str]] = {}
for _d in load_definitions():
    RULES_BY_CATEGORY.setdefault(_d.category, []).append(_d.id)


def _all_day(start: str = "0d", end: str = "2d") -> list[dict[str, str]]:
    return [{"start": start, "end": end}]


def _drop_nozzle2_transactions(_device: str, record: BaseRecord) -> BaseRecord | None:
    """No simulator injection hides a transaction while the nozzle cycles; a dispenser
    switched to a "maintenance" mode does exactly that: every 10th sale of nozzle 2 is gone."""
    if (
        isinstance(record, TransactionRecord)
        and record.nozzle == 2
        and record.order_id.endswith("0")
    ):
        return None
    return record


def _doubled_amounts(_device: str, record: BaseRecord) -> BaseRecord | None:
    """A POS/dispenser integration bug or a doctored record: amount twice volume × price."""
    if isinstance(record, TransactionRecord) and record.nozzle == 1:
        return record.model_copy(update={"amount": round(record.amount * 2, 2)})
    return record


def _declared_low(env: StackEnv, sim: Simulated) -> None:
    first = sim.start.astimezone(LOCAL).date()
    sold = _local_day_sales(sim, first)
    import_department(
        env, "tax_declarations", [declaration(sim.station, first, first, 0.7 * sold, "SB-1")]
    )


def _inspection_lapsed(env: StackEnv, sim: Simulated) -> None:
    import_department(
        env,
        "metrology",
        [
            {
                "record_type": "verification",
                "record_no": "JD-1",
                "station": sim.station,
                "nozzle_no": 1,
                "dispenser_no": 1,
                "result": "pass",
                "performed_at": (sim.start - timedelta(days=400)).isoformat(),
                "valid_until": (sim.start - timedelta(days=35)).date().isoformat(),
            }
        ],
    )
    import_department(
        env,
        "inspections",
        [
            {
                "inspection_no": "XJ-9",
                "station": sim.station,
                "result": "issues",
                "findings": "消防器材过期",
                "inspected_at": (sim.start - timedelta(days=20)).isoformat(),
                "rectification_due": (sim.start - timedelta(days=5)).date().isoformat(),
            }
        ],
    )


@dataclass
class Case:
    name: str
    rule: str
    subject: str
    scenario: dict[str, Any] = field(default_factory=dict)
    at: timedelta = timedelta(days=2)  # evaluation time after the start
    #: the statistical rules judge a tank only when its data covers their whole window
    #: (over-registration and strapping 3 days, leak 7): their cases run longer
    duration: str = "2d"
    waybills: bool = True
    department: Callable[[StackEnv, Simulated], None] | None = None
    edit: Callable[[str, BaseRecord], BaseRecord | None] | None = None


CASES = [
    Case(
        "over_registration",
        "dispenser.over_registration",
        "nozzle:3",
        {
            "injections": [
                {
                    "kind": "over_registration",
                    "nozzle": 3,
                    "percent": 2.0,
                    "windows": _all_day(end="4d"),
                }
            ]
        },
        at=timedelta(days=4),
        duration="4d",
    ),
    Case(
        "offbook_bypass",
        "reconciliation.daily_variance",
        "tank:2",
        {
            "injections": [
                {"kind": "offbook_bypass", "tank": 2, "sales_per_day": 30, "windows": _all_day()}
            ]
        },
    ),
    Case(
        "leak",
        "reconciliation.leak_rate",
        "tank:2",
        {
            "injections": [
                {"kind": "leak", "tank": 2, "litres_per_hour": 8, "windows": _all_day(end="8d")}
            ]
        },
        at=timedelta(days=8),
        duration="8d",
    ),
    Case(
        "totalizer_jump",
        "totalizer.continuity",
        "nozzle:2",
        {"injections": [{"kind": "totalizer_jump", "nozzle": 2, "litres": 800, "at": "1d12h"}]},
    ),
    Case(
        "totalizer_rollback",
        "totalizer.continuity",
        "nozzle:1",
        {
            "injections": [
                {"kind": "totalizer_rollback", "nozzle": 1, "litres": 1500, "at": "1d12h"}
            ]
        },
    ),
    Case(
        "unregistered_delivery",
        "delivery.unregistered",
        "tank:2:delivery:",
        {
            "injections": [
                {"kind": "unregistered_delivery", "tank": 2, "litres": 6000, "at": "1d3h"}
            ]
        },
    ),
    Case(
        "delivery_mismatch",
        "delivery.waybill_mismatch",
        "tank:1:delivery:",
        {
            "injections": [
                {"kind": "delivery_mismatch", "tank": 1, "percent": -3, "windows": _all_day()}
            ]
        },
    ),
    Case(
        "declared_capacity",
        "capacity.exceeds_declared",
        "tank:1",
        {
            "injections": [
                {
                    "kind": "declared_capacity",
                    "tank": 1,
                    "declared_litres": 26000,
                    "gauge_table": "real",
                }
            ]
        },
    ),
    Case(
        "declared_capacity_gauge",
        "capacity.strapping_mismatch",
        "tank:1",
        {
            "injections": [
                {
                    "kind": "declared_capacity",
                    "tank": 1,
                    "declared_litres": 26000,
                    "gauge_table": "declared",
                }
            ]
        },
        at=timedelta(days=4),
        duration="4d",
    ),
    Case(
        "pos_silent",
        "business_system.pos_silent",
        "pos",
        {"injections": [{"kind": "pos_omission", "share": 1.0, "windows": _all_day("1d", "2d")}]},
    ),
    Case(
        "pos_omission",
        "business_link.order_mismatch",
        "missing_in_pos",
        {"injections": [{"kind": "pos_omission", "share": 0.1, "windows": _all_day()}]},
    ),
    Case(
        "price_out_of_range",
        "business_data.price_out_of_range",
        "product:92",
        {
            "injections": [
                {
                    "kind": "price_out_of_range",
                    "product": "92",
                    "price": 8.6,
                    "windows": _all_day("1d12h", "2d"),
                }
            ]
        },
    ),
    Case(
        "impossible_values",
        "business_data.impossible_values",
        "transactions",
        edit=_doubled_amounts,
        at=timedelta(days=1, hours=12),
    ),
    Case(
        "revenue_gap",
        "tax_control.revenue_gap",
        "revenue",
        {"injections": [{"kind": "pos_omission", "share": 0.1, "windows": _all_day()}]},
    ),
    Case("order_imbalance", "order_imbalance.cycles", "nozzle:2", edit=_drop_nozzle2_transactions),
    Case("declaration", "declaration.deviation", "declaration:SB-1", department=_declared_low),
    Case("inspection", "inspection.risk", "nozzle:1:verification", department=_inspection_lapsed),
    Case(
        "gateway_unplugged",
        "cloud_data.gap",
        "feed",
        {"injections": [{"kind": "gateway_unplugged", "windows": _all_day("1d", "1d2h")}]},
        at=timedelta(days=1, hours=2, minutes=30),
    ),
    Case(
        "clock_skew",
        "cloud_data.clock_skew",
        "device:atg1",
        {
            "injections": [
                {
                    "kind": "clock_skew",
                    "device": "gauge",
                    "offset_seconds": 300,
                    "windows": _all_day("1d", "2d"),
                }
            ]
        },
    ),
]


def _local_day_sales(sim: Simulated, day: date) -> float:
    return sum(
        t.volume
        for t in sim.of(TransactionRecord)
        if datetime.fromtimestamp(t.ts / 1000, LOCAL).date() == day
    )


def test_every_category_has_a_rule_and_a_fraud_case() -> None:
    assert set(RULES_BY_CATEGORY) == set(Category)
    covered = {d.category for d in load_definitions() if d.id in {c.rule for c in CASES}}
    assert covered == set(Category)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_fraud_fires(case: Case, env: StackEnv) -> None:
    sim = simulate(env, "FRAUD1", duration=case.duration, edit=case.edit, **case.scenario)
    if case.waybills:
        import_waybills(env, sim.waybills)
    if case.department is not None:
        case.department(env, sim)
    # a case longer than the engine's first read (3 days) runs the engine from the start
    since = sim.start + timedelta(hours=12) if case.at > timedelta(days=3) else None
    report = await evaluate(env, sim.start + case.at, case.rule, since=since)
    result = report.result(case.rule)
    assert result is not None
    assert any(st == "FRAUD1" and subj.startswith(case.subject) for st, subj in result.fired), (
        result
    )


@pytest.mark.parametrize("category", list(Category), ids=str)
@pytest.mark.parametrize("hours_before_end", [0, 13])
async def test_clean_station_is_silent(
    category: Category, hours_before_end: int, clean_world: CleanWorld
) -> None:
    rules = RULES_BY_CATEGORY[category]
    now = clean_world.sim.end - timedelta(hours=hours_before_end)
    report = await evaluate(clean_world.env, now, *rules)
    assert [r.rule_id for r in report.results] == rules  # every rule ran
    assert report.fired == []
    with clean_world.env.sessions() as session:
        checked = {r: store.get_rule(session, r).last_detail["checked"] for r in rules}
    # silent because it looked and found nothing wrong, not because it had nothing to judge;
    # the leak rule needs days of quiet readings: on two, its minimum detectable leak is above
    # 0.76 L/h, and it says "inconclusive" (judges nothing), as the EPA SIR protocol does
    judged = {r: n for r, n in checked.items() if r not in INCONCLUSIVE_ON_TWO_DAYS}
    assert all(n > 0 for n in judged.values()), checked
