"""加油站详情 Station detail: one station's tanks, sales, reconciliation, totalizers, deliveries.

Reconciliation (wetstock) per product and local day, from raw measurements:

    variance = gauged change - ticketed deliveries + metered sales
             = (closing - previous closing) - pos_delivery + dispenser_transaction

A delivery the POS declares on one side of midnight and the gauge sees on the other shows as
a pair of opposite daily variances; the cumulative variance is not affected.

Each term is one InfluxQL query (hidden) and Grafana's math expression combines them per
product and day. The cumulative panel draws the US manual-inventory alarm band
±(1 % of cumulative throughput + 130 gal); the daily panel the SIR leak threshold
0.2 gal/h = 18.2 L/day as lines at ±18.2 L.
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
    math,
    panel,
    sql,
    station_variable,
    steps,
)

__all__ = ["BAND_GALLONS_L", "BAND_PERCENT", "SIR_DAILY_L", "build"]

UID = "fw-station"
GALLON_L = 3.785411784
BAND_PERCENT = 1.0  # monthly cumulative variance alarm: 1 % of throughput ...
BAND_GALLONS_L = round(130 * GALLON_L, 1)  # ... + 130 gal (492.1 L)
SIR_DAILY_L = round(0.2 * GALLON_L * 24, 1)  # SIR leak threshold 0.2 gal/h over a day
STATION = "\"station\" = '$station'"
DAILY = f"time(1d), \"product\" fill(0) tz('{TZ}')"


def _tank_panel(field: str, title: str, unit: str, what: str) -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title(title)
        .description(f"{what} per tank (mean per interval), from the tank gauge.")
        .unit(unit)
        .height(8)
        .span(12),
        influx(
            f"""
            SELECT mean("{field}") FROM "tank_inventory" WHERE {STATION} AND $timeFilter
            GROUP BY time($__interval), "tank" fill(none)
            """,
            alias="$tag_tank 号罐",
        ),
    )


def _sales_by_nozzle() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("分枪销量")
        .description("Litres sold per nozzle and interval (at least 1 h), dispenser records.")
        .interval("1h")
        .draw_style(cm.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
        .unit("litre")
        .height(8)
        .span(12),
        influx(
            f"""
            SELECT sum("volume") FROM "dispenser_transaction" WHERE {STATION} AND $timeFilter
            GROUP BY time($__interval), "nozzle" fill(0)
            """,
            alias="$tag_nozzle 号枪",
        ),
    )


def _sales_by_product() -> table.Panel:
    return panel(
        table.Panel()
        .title("分油品销售")
        .description(
            "Per product over the time range: litres, revenue (CNY) and transactions, from the "
            "dispenser records."
        )
        .height(8)
        .span(6),
        influx(
            f"""
            SELECT sum("volume") AS "volume_l", sum("amount") AS "revenue",
            count("volume") AS "transactions"
            FROM "dispenser_transaction" WHERE {STATION} AND $timeFilter GROUP BY "product"
            """,
            fmt="table",
        ),
    )


def _orders() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("加油机与POS交易笔数")
        .description(
            "Transactions per local day as the dispensers counted them and as the station's "
            "POS declared them: a gap is an order count imbalance (订单数不平衡)."
        )
        .draw_style(cm.GraphDrawStyle.BARS)
        .unit("short")
        .height(8)
        .span(6),
        influx(
            f"""
            SELECT count("volume") FROM "dispenser_transaction" WHERE {STATION} AND $timeFilter
            GROUP BY time(1d) fill(0) tz('{TZ}')
            """,
            alias="加油机 dispenser",
        ),
        influx(
            f"""
            SELECT count("volume") FROM "pos_sale" WHERE {STATION} AND $timeFilter
            GROUP BY time(1d) fill(0) tz('{TZ}')
            """,
            alias="POS",
        ),
    )


def _gauge_change(cumulative: bool) -> str:
    # The change between consecutive readings, summed per day: a day's closing minus the
    # previous day's closing (the first day: minus its first reading), so a delivery that
    # runs over midnight is counted whole, and the cumulative sum is last - first reading.
    outer = 'cumulative_sum(sum("change"))' if cumulative else 'sum("change")'
    return f"""
        SELECT {outer} FROM (
        SELECT difference("volume") AS "change" FROM "tank_inventory"
        WHERE {STATION} AND $timeFilter GROUP BY "tank", "product"
        ) WHERE $timeFilter GROUP BY {DAILY}
        """


def _daily_sum(measurement: str, cumulative: bool) -> str:
    agg = 'cumulative_sum(sum("volume"))' if cumulative else 'sum("volume")'
    return f"""
        SELECT {agg} FROM "{measurement}" WHERE {STATION} AND $timeFilter
        GROUP BY {DAILY}
        """


def _variance_daily() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("进销存日差异")
        .description(
            "Daily reconciliation variance per product: gauged change (closing minus the "
            "previous day's closing) minus ticketed deliveries (POS) plus metered sales. "
            f"Negative = product missing. Lines at ±{SIR_DAILY_L} L: the SIR leak threshold "
            "0.2 gal/h over a day."
        )
        .draw_style(cm.GraphDrawStyle.BARS)
        .fill_opacity(70)
        .unit("litre")
        .thresholds(steps((None, "red"), (-SIR_DAILY_L, "green"), (SIR_DAILY_L, "red")))
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.LINE))
        .height(9)
        .span(12),
        influx(_gauge_change(cumulative=False)).hidden(),
        influx(_daily_sum("pos_delivery", cumulative=False)).hidden(),
        influx(_daily_sum("dispenser_transaction", cumulative=False)).hidden(),
        math("$A - $B + $C"),
    )


def _variance_cumulative() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("进销存累计差异")
        .description(
            "Cumulative variance per product over the time range (pick a month), with the "
            f"manual inventory control alarm band ±({BAND_PERCENT:g} % of cumulative metered "
            f"sales + 130 gal = {BAND_GALLONS_L} L). Outside the band: investigate a leak or "
            "theft (below) or unrecorded deliveries (above)."
        )
        .unit("litre")
        .override_by_regexp(
            "^band.*",
            [
                dm.DynamicConfigValue(
                    id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}
                ),
                dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "red"}),
            ],
        )
        .height(9)
        .span(12),
        influx(_gauge_change(cumulative=True)).hidden(),
        influx(_daily_sum("pos_delivery", cumulative=True)).hidden(),
        influx(_daily_sum("dispenser_transaction", cumulative=True)).hidden(),
        math("$A - $B + $C"),
        influx(
            f"""
            SELECT cumulative_sum(sum("volume")) * {BAND_PERCENT / 100:g} + {BAND_GALLONS_L}
            FROM "dispenser_transaction" WHERE {STATION} AND $timeFilter GROUP BY {DAILY}
            """,
            alias="band + $tag_product",
        ),
        math("-$E"),
    )


def _totalizer_readings() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("泵码读数")
        .description(
            "Electronic totalizer (泵码) of each nozzle, litres. It only ever rises; a drop or "
            "a step without sales is tampering or a board swap."
        )
        .unit("litre")
        .height(8)
        .span(12),
        influx(
            f"""
            SELECT last("volume_total") FROM "totalizer" WHERE {STATION} AND $timeFilter
            GROUP BY time($__interval), "nozzle" fill(none)
            """,
            alias="$tag_nozzle 号枪",
        ),
    )


def _totalizer_continuity() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("泵码连续性")
        .description(
            "Per nozzle and hour: totalizer after the last sale minus totalizer before the "
            "first sale minus the litres of the hour's sales. Zero when every litre the meter "
            "counted was sold in a recorded transaction; anything else is volume dispensed "
            "off the record (or a meter reset)."
        )
        .draw_style(cm.GraphDrawStyle.BARS)
        .unit("litre")
        .thresholds(steps((None, "red"), (-0.5, "green"), (0.5, "red")))
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.LINE))
        .height(8)
        .span(12),
        influx(
            f"""
            SELECT last("totalizer_after") - first("totalizer_before") - sum("volume")
            FROM "dispenser_transaction" WHERE {STATION} AND $timeFilter
            GROUP BY time(1h), "nozzle" fill(none)
            """,
            alias="$tag_nozzle 号枪",
        ),
    )


def _deliveries() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("收油：液位仪、POS 与电子运单")
        .description(
            "Litres delivered per local day and product three ways: as the tank gauge measured "
            "the delivery, as the station's POS declared it, and as transport e-waybills "
            "record it. A gauge delivery without a waybill is an unregistered delivery "
            "(私自收油)."
        )
        .draw_style(cm.GraphDrawStyle.BARS)
        .fill_opacity(70)
        .unit("litre")
        .height(8)
        .span(14),
        influx(
            f"""
            SELECT sum("end_volume") - sum("start_volume") FROM "tank_delivery"
            WHERE {STATION} AND $timeFilter GROUP BY time(1d), "product" fill(none) tz('{TZ}')
            """,
            alias="液位仪 $tag_product",
        ),
        influx(
            f"""
            SELECT sum("volume") FROM "pos_delivery" WHERE {STATION} AND $timeFilter
            GROUP BY time(1d), "product" fill(none) tz('{TZ}')
            """,
            alias="POS $tag_product",
        ),
        sql(
            f"""
            SELECT date_trunc('day', arrived_at AT TIME ZONE '{TZ}') AT TIME ZONE '{TZ}' AS time,
                   '电子运单 ' || product AS metric, sum(volume_l) AS volume_l
            FROM ewaybills
            WHERE station_id = '$station' AND $__timeFilter(arrived_at)
            GROUP BY 1, 2 ORDER BY 1
            """,
            fmt="time_series",
        ),
    )


def _waybills() -> table.Panel:
    return panel(
        table.Panel()
        .title("电子运单")
        .description(
            "The station's e-waybills in the time range (vehicle and driver are not shown: "
            "Grafana's database account cannot read them)."
        )
        .height(8)
        .span(10),
        sql(
            """
            SELECT waybill_no, arrived_at, product, volume_l, carrier, origin
            FROM ewaybills
            WHERE station_id = '$station' AND $__timeFilter(arrived_at)
            ORDER BY arrived_at DESC
            """
        ),
    )


def _warnings() -> table.Panel:
    return panel(
        table.Panel()
        .title("本站预警")
        .description(
            "The station's warnings that are open or were seen in the time range, newest "
            "first; handle them in the fuelwatch portal (warning id)."
        )
        .height(8)
        .span(24),
        sql(
            """
            SELECT id, title_zh, title_en, category, severity, state,
                   first_seen, last_seen, occurrences
            FROM warnings
            WHERE station_id = '$station'
              AND (state <> 'closed' OR last_seen >= $__timeFrom())
            ORDER BY last_seen DESC
            """
        ),
    )


def build() -> db.Dashboard:
    return (
        dashboard(
            UID,
            "加油站详情",
            "One station in detail: tanks (level, volume, water, temperature), sales by nozzle "
            "and product, purchase-sales-inventory reconciliation with alarm bands, totalizer "
            "continuity, deliveries against waybills, and its warnings.",
            tags=["station"],
        )
        .with_variable(district_variable())
        .with_variable(station_variable())
        .with_row(db.Row("油罐"))
        .with_panel(_tank_panel("height", "油位", "lengthmm", "Product level (mm)"))
        .with_panel(_tank_panel("volume", "油量", "litre", "Product volume (L, gross)"))
        .with_panel(_tank_panel("water", "水位", "lengthmm", "Water at the tank bottom (mm)"))
        .with_panel(_tank_panel("temperature", "油温", "celsius", "Product temperature (°C)"))
        .with_row(db.Row("销售"))
        .with_panel(_sales_by_nozzle())
        .with_panel(_sales_by_product())
        .with_panel(_orders())
        .with_row(db.Row("进销存"))
        .with_panel(_variance_daily())
        .with_panel(_variance_cumulative())
        .with_row(db.Row("泵码"))
        .with_panel(_totalizer_readings())
        .with_panel(_totalizer_continuity())
        .with_row(db.Row("收油与预警"))
        .with_panel(_deliveries())
        .with_panel(_waybills())
        .with_panel(_warnings())
    )
