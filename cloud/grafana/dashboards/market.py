"""市场监管 Market regulation: prices and their outliers, licences, metrology."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import dashboard as dm

from fuelwatch.cloud.grafana.dashboards.kit import (
    TZ,
    dashboard,
    district_variable,
    influx,
    math,
    panel,
    product_variable,
    sql,
    steps,
)

__all__ = ["EXPIRING_DAYS", "build"]

UID = "fw-market-regulation"
SCOPE = '"district" =~ /^$district$/ AND "product" =~ /^$product$/ AND $timeFilter'
EXPIRING_DAYS = 30  # as GET /supervision/licences?within_days=30
LICENCE_COLOURS = {
    "valid": ("有效", "green"),
    "expiring": ("即将到期", "yellow"),
    "expired": ("已过期", "red"),
    "missing": ("缺失", "red"),
    "suspended": ("暂扣", "orange"),
    "revoked": ("吊销", "red"),
}


def _price_stats() -> table.Panel:
    return panel(
        table.Panel()
        .title("价格统计")
        .description(
            "Unit price (CNY/L) per product and district over the time range: lowest, highest, "
            "mean, latest, and the number of transactions, from dispenser records."
        )
        .unit("currencyCNY")
        .height(8)
        .span(12),
        influx(
            f"""
            SELECT min("unit_price") AS "min", max("unit_price") AS "max",
            mean("unit_price") AS "mean", last("unit_price") AS "last",
            count("unit_price") AS "transactions"
            FROM "dispenser_transaction" WHERE {SCOPE} GROUP BY "product", "district"
            """,
            fmt="table",
        ),
    )


def _price_series() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("平均价格走势")
        .description("Mean unit price per product and interval (at least 1 h).")
        .interval("1h")
        .unit("currencyCNY")
        .height(8)
        .span(12),
        influx(
            f"""
            SELECT mean("unit_price") FROM "dispenser_transaction" WHERE {SCOPE}
            GROUP BY time($__interval), "product" fill(none)
            """,
            alias="$tag_product",
        ),
    )


def _outliers() -> table.Panel:
    return panel(
        table.Panel()
        .title("价格异常站点")
        .description(
            "Each station's mean price per product against the mean of all chosen stations, "
            "in percent (math expression C = (A - B) / B × 100, joined on the product). Beyond "
            "±3 % is marked: price gouging, or a price that hides metering fraud."
        )
        .unit("percent")
        .decimals(2)
        .thresholds(steps((None, "red"), (-3, "green"), (3, "red")))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="reduce",
                options={"reducers": ["lastNotNull"], "mode": "seriesToRows"},
            )
        )
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="sortBy", options={"sort": [{"field": "Last *", "desc": True}]}
            )
        )
        .height(8)
        .span(12),
        influx(
            f"""
            SELECT mean("unit_price") FROM "dispenser_transaction" WHERE {SCOPE}
            GROUP BY "station", "product"
            """
        ).hidden(),
        influx(
            f"""
            SELECT mean("unit_price") FROM "dispenser_transaction" WHERE {SCOPE}
            GROUP BY "product"
            """
        ).hidden(),
        math("($A - $B) / $B * 100"),
    )


def _price_changes() -> table.Panel:
    return panel(
        table.Panel()
        .title("调价情况")
        .description(
            "Per station and product: how many different unit prices were charged in the time "
            "range and the spread between the highest and the lowest."
        )
        .height(8)
        .span(12),
        influx(
            f"""
            SELECT count(distinct("unit_price")) AS "prices",
            max("unit_price") - min("unit_price") AS "spread"
            FROM "dispenser_transaction" WHERE {SCOPE} GROUP BY "station", "product"
            """,
            fmt="table",
        ),
    )


# Licences are dated in local days: "today" is the local date, not the database session's.
_TODAY = f"(now() AT TIME ZONE '{TZ}')::date"
_LICENCE_STATE = f"""
    CASE
      WHEN b.station_id IS NULL THEN 'missing'
      WHEN b.status <> 'valid' THEN b.status
      WHEN b.valid_until < {_TODAY} THEN 'expired'
      WHEN b.valid_until <= {_TODAY} + {EXPIRING_DAYS} THEN 'expiring'
      ELSE 'valid'
    END"""

_LICENCE_ROWS = f"""
    WITH required(kind) AS (
      VALUES ('hazardous_chemicals'), ('fuel_retail'), ('business')
    ),
    best AS (
      SELECT DISTINCT ON (station_id, kind) station_id, kind, licence_no, status, valid_until
      FROM licences
      WHERE district_id IN ($district)
      ORDER BY station_id, kind, (status = 'valid') DESC, valid_until DESC
    ),
    states AS (
      SELECT s.id AS station, s.name, s.district_id AS district, r.kind,
             b.licence_no, b.valid_until, {_LICENCE_STATE} AS licence_state
      FROM stations s
      CROSS JOIN required r
      LEFT JOIN best b ON b.station_id = s.id AND b.kind = r.kind
      WHERE s.district_id IN ($district)
    )"""


def _licences() -> table.Panel:
    return panel(
        table.Panel()
        .title("证照状态")
        .description(
            "Every station's three required licences (hazardous chemicals, fuel retail, "
            "business) with the best one on file: valid, expiring within "
            f"{EXPIRING_DAYS} days, expired, missing, suspended or revoked. Problems first. "
            "Same rules as GET /supervision/licences."
        )
        .mappings(
            [
                dm.ValueMap(
                    options={
                        k: dm.ValueMappingResult(text=zh, color=c)
                        for k, (zh, c) in LICENCE_COLOURS.items()
                    }
                )
            ]
        )
        .height(10)
        .span(16),
        sql(
            f"""
            {_LICENCE_ROWS}
            SELECT * FROM states
            ORDER BY (licence_state = 'valid'), (licence_state = 'expiring'), station, kind
            """
        ),
    )


def _unlicensed() -> stat.Panel:
    return panel(
        stat.Panel()
        .title("无证或证照失效站点")
        .description(
            "Stations operating without all three licences valid (黑户, expired, suspended, "
            "revoked or missing); an expiring licence still counts as valid."
        )
        .thresholds(steps((None, "green"), (1, "red")))
        .height(10)
        .span(8),
        sql(
            f"""
            {_LICENCE_ROWS}
            SELECT count(DISTINCT station) AS unlicensed_stations FROM states
            WHERE licence_state NOT IN ('valid', 'expiring')
            """
        ),
    )


def _metrology() -> table.Panel:
    return panel(
        table.Panel()
        .title("计量检定与铅封异常")
        .description(
            "Failed or adjusted verifications and broken seals in the time range, from market "
            "regulation's metrology records (inspector names are not readable by Grafana)."
        )
        .height(8)
        .span(24),
        sql(
            """
            SELECT station_id AS station, record_type, record_no, dispenser_no, nozzle_no,
                   performed_at, result, error_percent, seal_no, seal_state
            FROM metrology_records
            WHERE district_id IN ($district) AND $__timeFilter(performed_at)
              AND (result IN ('fail', 'adjusted') OR seal_state = 'broken')
            ORDER BY performed_at DESC
            """
        ),
    )


def build() -> db.Dashboard:
    return (
        dashboard(
            UID,
            "市场监管：价格与证照",
            "For market regulation (市场监管): price statistics and stations whose prices stand "
            "out, price changes, licence status (unlicensed stations), metrology failures and "
            "broken seals.",
            tags=["market_regulation"],
        )
        .with_variable(district_variable())
        .with_variable(product_variable())
        .with_panel(_price_stats())
        .with_panel(_price_series())
        .with_panel(_outliers())
        .with_panel(_price_changes())
        .with_panel(_licences())
        .with_panel(_unlicensed())
        .with_panel(_metrology())
    )
