"""Every detector a rule may name, registered here and only here (no folder scanning)."""

from __future__ import annotations

from cloud.rules.detectors import (
    business,
    cloud_data,
    delivery,
    department,
    dispenser,
    totalizer,
    wetstock,
)
from cloud.rules.detectors.base import Detector

__all__ = ["DETECTORS", "Detector"]

_TABLE = (
    Detector(
        "book_variance",
        wetstock.book_variance,
        ("readings", "sales", "deliveries"),
        ("variance_percent", "variance_litres"),
        "gauged vs book inventory per tank",
    ),
    Detector(
        "leak_rate",
        wetstock.leak_rate,
        ("readings", "transactions"),
        ("leak_litres_per_hour", "min_t", "min_idle_hours"),
        "SIR-style loss rate in idle periods",
    ),
    Detector(
        "strapping_ratio",
        wetstock.strapping_ratio,
        ("readings", "transactions"),
        ("deviation_percent", "min_sales_litres"),
        "gauge drop vs metered sales per tank",
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
        ("readings", "transactions"),
        ("over_registration_percent", "min_t", "min_sales_litres"),
        "per-nozzle tank litres per metered litre",
    ),
    Detector(
        "totalizer_continuity",
        totalizer.totalizer_continuity,
        ("transactions", "snapshots"),
        ("tolerance_litres", "max_silence_minutes"),
        "totalizer jumps, rollbacks, resets",
    ),
    Detector(
        "unregistered_delivery",
        delivery.unregistered_delivery,
        ("deliveries", "sales", "pos_deliveries"),
        ("min_litres", "match_hours"),
        "gauge deliveries without waybill or POS delivery",
    ),
    Detector(
        "waybill_mismatch",
        delivery.waybill_mismatch,
        ("deliveries", "sales", "pos_deliveries"),
        ("tolerance_percent", "tolerance_litres", "match_hours"),
        "delivered vs waybill volume",
    ),
    Detector(
        "pos_silent",
        business.pos_silent,
        ("transactions", "pos_sales"),
        ("min_transactions", "min_pos_share_percent"),
        "POS silent while dispensers sell",
    ),
    Detector(
        "pos_link",
        business.pos_link,
        ("transactions", "pos_sales"),
        ("min_missing", "min_missing_percent", "edge_minutes"),
        "orders missing on one side",
    ),
    Detector(
        "tax_gap",
        business.tax_gap,
        ("transactions", "pos_sales"),
        ("gap_percent", "min_amount"),
        "dispenser revenue vs POS revenue",
    ),
    Detector(
        "price_range",
        business.price_range,
        ("transactions", "reference"),
        ("above_percent", "below_percent"),
        "unit price outside the permitted band",
    ),
    Detector(
        "impossible_values",
        business.impossible_values,
        ("transactions",),
        ("amount_tolerance_yuan", "max_flow_litres_per_minute"),
        "values no dispenser can produce",
    ),
    Detector(
        "order_imbalance",
        business.order_imbalance,
        ("events", "transactions"),
        ("match_seconds", "min_difference", "min_difference_percent"),
        "dispensing cycles vs transactions",
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
    ),
    Detector(
        "data_gap", cloud_data.data_gap, ("counts",), ("max_gap_minutes",), "gaps in polled data"
    ),
    Detector(
        "clock_skew",
        cloud_data.clock_skew,
        ("stamps",),
        ("max_skew_seconds",),
        "device vs gateway clock",
    ),
)

DETECTORS: dict[str, Detector] = {d.name: d for d in _TABLE}
