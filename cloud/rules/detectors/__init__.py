"""Every detector a rule may name, registered here and only here (no folder scanning).

All of them judge the engine's incremental state (``uses_state``): the wetstock, dispenser,
totalizer and delivery detectors its running models, the counting detectors its recent records
seen as the rows of their queries (cloud/rules/state/views.py). ``inspection_risk`` reads
department tables only; ``capacity_check`` runs its own aggregated query (every 6 h).
"""

from __future__ import annotations

from fuelwatch.cloud.rules.detectors import (
    business,
    cloud_data,
    delivery,
    department,
    dispenser,
    totalizer,
    wetstock,
)
from fuelwatch.cloud.rules.detectors.base import Detector

__all__ = ["DETECTORS", "Detector"]

_TABLE = (
    Detector(
        "book_variance",
        wetstock.book_variance,
        (),
        ("alpha", "meter_mpe_percent", "document_mpe_percent"),
        "gauged vs book inventory per tank, against legal bands and the gauge's noise",
        uses_state=True,
    ),
    Detector(
        "leak_rate",
        wetstock.leak_rate,
        (),
        ("alpha", "leak_litres_per_hour"),
        "SIR-style steady loss with HAC standard error",
        uses_state=True,
    ),
    Detector(
        "unexplained_drops",
        wetstock.unexplained_drops,
        (),
        ("min_litres",),
        "dispensing with no transaction (hidden sales)",
        uses_state=True,
    ),
    Detector(
        "strapping_ratio",
        wetstock.strapping_ratio,
        (),
        ("alpha", "deviation_percent", "min_sales_litres"),
        "gauge litres per metered litre per tank",
        uses_state=True,
    ),
    Detector(
        "capacity_check",
        wetstock.capacity_check,
        ("levels",),
        ("tolerance_percent",),
        "gauge table / readings / strapping vs declared capacity",
    ),
    Detector(
        "over_registration",
        dispenser.over_registration,
        (),
        ("alpha", "legal_mpe_percent", "change_percent", "min_sales_litres"),
        "per-nozzle meter factor with its confidence interval, against the legal band",
        uses_state=True,
    ),
    Detector(
        "totalizer_continuity",
        totalizer.totalizer_continuity,
        (),
        ("tolerance_litres",),
        "totalizer jumps, rollbacks, resets (also across idle time)",
        uses_state=True,
    ),
    Detector(
        "unregistered_delivery",
        delivery.unregistered_delivery,
        (),
        ("alpha", "min_litres", "match_hours"),
        "gauge deliveries without waybill or POS delivery",
        uses_state=True,
    ),
    Detector(
        "waybill_mismatch",
        delivery.waybill_mismatch,
        (),
        ("alpha", "document_mpe_percent", "match_hours"),
        "delivered vs waybill volume, tolerance from the gauge's uncertainty",
        uses_state=True,
    ),
    Detector(
        "pos_silent",
        business.pos_silent,
        ("transactions", "pos_sales"),
        ("min_transactions", "min_pos_share_percent"),
        "POS silent while dispensers sell",
        uses_state=True,
        views=False,
    ),
    Detector(
        "pos_link",
        business.pos_link,
        ("transactions", "pos_sales"),
        ("min_missing", "min_missing_percent", "edge_minutes"),
        "orders missing on one side",
        uses_state=True,
        views=False,
    ),
    Detector(
        "tax_gap",
        business.tax_gap,
        ("transactions", "pos_sales"),
        ("gap_percent", "min_amount"),
        "dispenser revenue vs POS revenue",
        uses_state=True,
        views=False,
    ),
    Detector(
        "price_range",
        business.price_range,
        ("transactions", "reference"),
        ("above_percent", "below_percent"),
        "unit price outside the permitted band",
        uses_state=True,
    ),
    Detector(
        "impossible_values",
        business.impossible_values,
        ("transactions",),
        ("amount_tolerance_yuan", "max_flow_litres_per_minute"),
        "values no dispenser can produce",
        uses_state=True,
    ),
    Detector(
        "order_imbalance",
        business.order_imbalance,
        ("events", "transactions"),
        ("match_seconds", "min_difference", "min_difference_percent"),
        "dispensing cycles vs transactions",
        uses_state=True,
        views=False,
    ),
    Detector(
        "inspection_risk",
        department.inspection_risk,
        (),
        ("grace_days", "max_days_since_inspection"),
        "department inspection and metrology records",
    ),
    Detector(
        "declaration_deviation",
        department.declaration_deviation,
        ("daily_sales",),
        ("deviation_percent", "min_volume_litres"),
        "declared vs measured sales",
        uses_state=True,
    ),
    Detector(
        "data_gap",
        cloud_data.data_gap,
        ("counts",),
        ("max_gap_minutes",),
        "gaps in polled data",
        uses_state=True,
    ),
    Detector(
        "clock_skew",
        cloud_data.clock_skew,
        ("stamps",),
        ("max_skew_seconds",),
        "device vs gateway clock",
        uses_state=True,
    ),
)

DETECTORS: dict[str, Detector] = {d.name: d for d in _TABLE}
