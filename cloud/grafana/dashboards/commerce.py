"""商务 Commerce: sales volume and revenue by district, product and period; purchases."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import common as cm

from fuelwatch.cloud.grafana.dashboards.kit import (
    TZ,
    dashboard,
    district_variable,
    influx,
    panel,
    period_variable,
    product_variable,
    sql,
)

__all__ = ["build"]

UID = "fw-commerce"
SCOPE = '"district" =~ /^$district$/ AND "product" =~ /^$product$/ AND $timeFilter'


def _totals() -> stat.Panel:
    return panel(
        stat.Panel()
        .title("销售总览")
        .description(
            "Litres sold, revenue (CNY) and transactions in the chosen districts, products and "
            "time range (dispenser records)."
        )
        .height(5)
        .span(24),
        influx(
            f"""
            SELECT sum("volume") AS "销量 L", sum("amount") AS "销售额 CNY",
            count("volume") AS "交易笔数"
            FROM "dispenser_transaction" WHERE {SCOPE}
            """,
            fmt="table",
        ),
    )


def _series(field: str, by: str, title: str, unit: str, what: str) -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title(title)
        .description(f"{what} per {by} and period (the period variable: day, week, 30 days).")
        .draw_style(cm.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
        .unit(unit)
        .height(9)
        .span(12),
        influx(
            f"""
            SELECT sum("{field}") FROM "dispenser_transaction" WHERE {SCOPE}
            GROUP BY time($period), "{by}" fill(0) tz('{TZ}')
            """,
            alias=f"$tag_{by}",
        ),
    )


def _district_product() -> table.Panel:
    return panel(
        table.Panel()
        .title("分区分油品销售")
        .description(
            "Per district and product over the time range: litres, revenue, transactions and "
            "the average price paid (revenue / litres)."
        )
        .height(9)
        .span(12),
        influx(
            f"""
            SELECT sum("volume") AS "volume_l", sum("amount") AS "revenue",
            count("volume") AS "transactions", sum("amount") / sum("volume") AS "avg_price"
            FROM "dispenser_transaction" WHERE {SCOPE} GROUP BY "district", "product"
            """,
            fmt="table",
        ),
    )


def _top_stations() -> table.Panel:
    return panel(
        table.Panel()
        .title("加油站销量排名")
        .description("Stations ranked by litres sold in the time range, with revenue.")
        .sort_by([cb.TableSortByFieldState().display_name("volume_l").desc(True)])
        .height(9)
        .span(12),
        influx(
            f"""
            SELECT sum("volume") AS "volume_l", sum("amount") AS "revenue"
            FROM "dispenser_transaction" WHERE {SCOPE} GROUP BY "station"
            """,
            fmt="table",
        ),
    )


def _purchases() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("进货（电子运单）与销售")
        .description(
            "Litres bought per local day by district as transport e-waybills record them, "
            "next to litres sold: purchases controlled by sales (以销控进)."
        )
        .unit("litre")
        .height(9)
        .span(24),
        sql(
            f"""
            SELECT date_trunc('day', arrived_at AT TIME ZONE '{TZ}') AT TIME ZONE '{TZ}' AS time,
                   '进货 ' || district_id AS metric, sum(volume_l) AS volume_l
            FROM ewaybills
            WHERE district_id IN ($district) AND product IN ($product)
              AND $__timeFilter(arrived_at)
            GROUP BY 1, 2 ORDER BY 1
            """,
            fmt="time_series",
        ),
        influx(
            f"""
            SELECT sum("volume") FROM "dispenser_transaction" WHERE {SCOPE}
            GROUP BY time(1d), "district" fill(0) tz('{TZ}')
            """,
            alias="销售 $tag_district",
        ),
    )


def build() -> db.Dashboard:
    return (
        dashboard(
            UID,
            "商务：成品油销售统计",
            "For commerce (商务): sales volume and revenue by district, product and period, the "
            "stations that sell most, and purchases (e-waybills) against sales.",
            tags=["commerce"],
        )
        .with_variable(district_variable())
        .with_variable(product_variable())
        .with_variable(period_variable())
        .with_panel(_totals())
        .with_panel(_series("volume", "district", "分区销量", "litre", "Litres sold"))
        .with_panel(_series("amount", "product", "分油品销售额", "currencyCNY", "Revenue"))
        .with_panel(_district_product())
        .with_panel(_top_stations())
        .with_panel(_purchases())
    )
