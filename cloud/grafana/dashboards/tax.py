"""税务 Tax: declared against measured sales per station and period, ranked by deviation.

Declarations are in the registry (PostgreSQL), measured sales in InfluxDB; Grafana joins the
two per station (``joinByField``) and computes the deviation (``calculateField``). The period
is the dashboard's time range: declarations count when their whole period lies in it, so pick
the declaration period (e.g. "previous month") to compare like with like.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from fuelwatch.cloud.grafana.dashboards.kit import (
    TZ,
    dashboard,
    district_variable,
    influx,
    panel,
    sql,
    station_variable,
    steps,
)

__all__ = ["TAX_CATEGORIES", "build"]

UID = "fw-tax"
TAX_CATEGORIES = ("tax_control", "declaration_deviation")
# One figure per station and period: the all-products row ("") when declared, else the sum
# of the per-product rows, so a station that files both is not counted twice.
_DECLARED = f"""
    WITH periods AS (
      SELECT station_id, period_start, period_end,
             COALESCE(max(declared_volume_l) FILTER (WHERE product = ''),
                      sum(declared_volume_l)) AS volume_l,
             COALESCE(max(declared_revenue) FILTER (WHERE product = ''),
                      sum(declared_revenue)) AS revenue
      FROM tax_declarations
      WHERE district_id IN ($district)
        AND period_start >= ($__timeFrom()::timestamptz AT TIME ZONE '{TZ}')::date
        AND period_end <= ($__timeTo()::timestamptz AT TIME ZONE '{TZ}')::date
      GROUP BY station_id, period_start, period_end
    )"""


def _comparison() -> table.Panel:
    return panel(
        table.Panel()
        .title("申报与实测销量偏差排名")
        .description(
            "Per station: litres and revenue declared to tax for the periods inside the time "
            "range, against litres and revenue the dispensers measured in the same range; "
            "deviation = measured - declared, ranked by deviation ratio (undeclared sales "
            "first)."
        )
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="joinByField", options={"byField": "station", "mode": "outer"}
            )
        )
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize", options={"excludeByName": {"Time": True, "Time 1": True}}
            )
        )
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="calculateField",
                options={
                    "mode": "binary",
                    "binary": {"left": "measured_l", "operator": "-", "right": "declared_l"},
                    "alias": "deviation_l",
                },
            )
        )
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="calculateField",
                options={
                    "mode": "binary",
                    "binary": {"left": "deviation_l", "operator": "/", "right": "declared_l"},
                    "alias": "deviation_ratio",
                },
            )
        )
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="sortBy", options={"sort": [{"field": "deviation_ratio", "desc": True}]}
            )
        )
        .override_by_name(
            "deviation_ratio",
            [
                dm.DynamicConfigValue(id_val="unit", value="percentunit"),
                dm.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background"}
                ),
                dm.DynamicConfigValue(
                    id_val="thresholds",
                    value={
                        "mode": "absolute",
                        "steps": [
                            {"value": None, "color": "red"},
                            {"value": -0.05, "color": "green"},
                            {"value": 0.05, "color": "red"},
                        ],
                    },
                ),
            ],
        )
        .height(10)
        .span(24),
        sql(
            f"""
            {_DECLARED}
            SELECT station_id AS station, sum(volume_l) AS declared_l,
                   sum(revenue) AS declared_revenue, count(*) AS periods
            FROM periods GROUP BY station_id ORDER BY station_id
            """
        ),
        influx(
            """
            SELECT sum("volume") AS "measured_l", sum("amount") AS "measured_revenue"
            FROM "dispenser_transaction" WHERE "district" =~ /^$district$/ AND $timeFilter
            GROUP BY "station"
            """,
            fmt="table",
        ),
    )


def _station_periods() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("本站申报与实测（按期）")
        .description(
            "The chosen station: litres declared per declaration period (bar at the period's "
            "first day) and litres measured per local day."
        )
        .draw_style(cm.GraphDrawStyle.BARS)
        .fill_opacity(70)
        .unit("litre")
        .height(9)
        .span(12),
        sql(
            f"""
            SELECT period_start::timestamp AT TIME ZONE '{TZ}' AS time,
                   '申报 declared' AS metric,
                   COALESCE(max(declared_volume_l) FILTER (WHERE product = ''),
                            sum(declared_volume_l)) AS volume_l
            FROM tax_declarations
            WHERE station_id = '$station'
              AND period_start >= ($__timeFrom()::timestamptz AT TIME ZONE '{TZ}')::date
              AND period_start <= ($__timeTo()::timestamptz AT TIME ZONE '{TZ}')::date
            GROUP BY period_start, period_end ORDER BY 1
            """,
            fmt="time_series",
        ),
        influx(
            f"""
            SELECT sum("volume") FROM "dispenser_transaction"
            WHERE "station" = '$station' AND $timeFilter GROUP BY time(1d) fill(0) tz('{TZ}')
            """,
            alias="实测 measured",
        ),
    )


def _declarations() -> table.Panel:
    return panel(
        table.Panel()
        .title("纳税申报记录")
        .description(
            "Declarations whose period starts in the time range, as the tax feed imported them."
        )
        .height(9)
        .span(12),
        sql(
            f"""
            SELECT station_id AS station, period_start, period_end, product,
                   declared_volume_l, declared_revenue, tax_paid, declaration_no
            FROM tax_declarations
            WHERE district_id IN ($district)
              AND period_start >= ($__timeFrom()::timestamptz AT TIME ZONE '{TZ}')::date
              AND period_start <= ($__timeTo()::timestamptz AT TIME ZONE '{TZ}')::date
            ORDER BY period_start DESC, station_id, product
            """
        ),
    )


def _tax_warnings() -> timeseries.Panel:
    regex = "|".join(TAX_CATEGORIES)
    return panel(
        timeseries.Panel()
        .title("涉税预警")
        .description(
            "Tax-control and declaration-deviation warnings opened per day by category "
            "(warning_event)."
        )
        .draw_style(cm.GraphDrawStyle.BARS)
        .stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
        .thresholds(steps((None, "green")))
        .height(8)
        .span(24),
        influx(
            f"""
            SELECT count("warning_id") FROM "warning_event"
            WHERE "state" = 'open' AND "category" =~ /^({regex})$/
            AND "district" =~ /^$district$/ AND $timeFilter
            GROUP BY time(1d), "category" fill(0) tz('{TZ}')
            """,
            alias="$tag_category",
        ),
    )


def build() -> db.Dashboard:
    return (
        dashboard(
            UID,
            "税务：申报与实测对比",
            "For tax (税务): sales declared by each station against sales its dispensers "
            "measured, per station and period, ranked by deviation; the declarations; "
            "tax-related warnings.",
            tags=["tax"],
        )
        .time("now-30d", "now")
        .with_variable(district_variable())
        .with_variable(station_variable())
        .with_panel(_comparison())
        .with_panel(_station_periods())
        .with_panel(_declarations())
        .with_panel(_tax_warnings())
    )
