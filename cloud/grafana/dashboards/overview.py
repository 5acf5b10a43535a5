"""总览 Overview: where the warnings are, how they develop, and whether the data comes in."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import geomap, stat, statushistory, table, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import geomap as gm

from fuelwatch.cloud.common.categories import LABELS
from fuelwatch.cloud.grafana.dashboards.kit import (
    dashboard,
    district_variable,
    influx,
    panel,
    sql,
    steps,
)

__all__ = ["build"]

UID = "fw-overview"
WARNING_COLOURS = steps((None, "green"), (1, "orange"), (3, "red"))


def _category_overrides(builder: timeseries.Panel) -> timeseries.Panel:
    for category, (zh, _en) in LABELS.items():
        builder.override_by_name(
            category.value, [dm.DynamicConfigValue(id_val="displayName", value=zh)]
        )
    return builder


def _category_mapping() -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={c.value: dm.ValueMappingResult(text=zh) for c, (zh, _en) in LABELS.items()}
        )
    ]


def _map() -> geomap.Panel:
    markers = (
        cb.MapLayerOptions()
        .type("markers")
        .name("加油站")
        .config(
            {
                "showLegend": True,
                "style": {
                    "color": {"field": "open_warnings", "fixed": "green"},
                    "size": {"fixed": 7},
                    "text": {"field": "station", "mode": "field"},
                    "textConfig": {"fontSize": 10, "offsetY": -12},
                },
            }
        )
        .location(
            cb.FrameGeometrySource()
            .mode(cm.FrameGeometrySourceMode.COORDS)
            .latitude("latitude")
            .longitude("longitude")
        )
        .tooltip(True)
    )
    return panel(
        geomap.Panel()
        .title("加油站分布与未关闭预警")
        .description(
            "Stations on the map, coloured by their open (not closed) warnings: green none, "
            "orange 1-2, red 3 or more. Coordinates and warnings from the registry."
        )
        .view(geomap.MapViewConfig().id("fit").zoom(9))
        .basemap(cb.MapLayerOptions().type("default").name("底图"))
        .layers([markers])
        .tooltip(geomap.TooltipOptions().mode(gm.TooltipMode.DETAILS))
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(WARNING_COLOURS)
        .height(12)
        .span(12),
        sql(
            """
            SELECT s.id AS station, s.name, s.district_id AS district,
                   s.latitude, s.longitude,
                   count(w.id) AS open_warnings,
                   count(w.id) FILTER (WHERE w.severity IN ('high', 'critical')) AS high_warnings
            FROM stations s
            LEFT JOIN warnings w ON w.station_id = s.id AND w.state <> 'closed'
            WHERE s.district_id IN ($district)
              AND s.latitude IS NOT NULL AND s.longitude IS NOT NULL
            GROUP BY s.id, s.name, s.district_id, s.latitude, s.longitude
            ORDER BY s.id
            """
        ),
    )


def _open_by_category() -> table.Panel:
    return panel(
        table.Panel()
        .title("未关闭预警（按类别、级别）")
        .description(
            "Open warnings by category and severity, with the oldest first-seen time: what is "
            "waiting to be handled. From the registry's warnings table."
        )
        .mappings(_category_mapping())
        .height(12)
        .span(8),
        sql(
            """
            SELECT category, severity, count(*) AS open_warnings, min(first_seen) AS oldest
            FROM warnings
            WHERE state <> 'closed' AND district_id IN ($district)
            GROUP BY category, severity
            ORDER BY open_warnings DESC, category, severity
            """
        ),
    )


def _new_warnings(by: str, title: str, what: str) -> timeseries.Panel:
    builder = panel(
        timeseries.Panel()
        .title(title)
        .description(
            f"Warnings opened per interval by {what}: rule-engine events with state 'open' "
            "in the warning_event measurement."
        )
        .draw_style(cm.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
        .unit("short")
        .height(8)
        .span(12),
        influx(
            f"""
            SELECT count("warning_id") FROM "warning_event"
            WHERE "state" = 'open' AND "district" =~ /^$district$/ AND $timeFilter
            GROUP BY time($__interval), "{by}" fill(0)
            """,
            alias=f"$tag_{by}",
        ),
    )
    return _category_overrides(builder) if by == "category" else builder


def _gateways_online() -> stat.Panel:
    return panel(
        stat.Panel()
        .title("在线网关")
        .description(
            "Gateways online now (a status in the last 3 minutes whose state is 'online') and "
            "gateways seen in the time range. Gateways report every 60 s by default."
        )
        .unit("short")
        .height(6)
        .span(6),
        influx(
            """
            SELECT count("backlog") AS "在线 online" FROM (
            SELECT last("spool_backlog") AS "backlog", last("state") AS "state"
            FROM "gateway_status" WHERE "district" =~ /^$district$/ AND time > now() - 3m
            GROUP BY "station", "device"
            ) WHERE "state" = 'online'
            """,
            fmt="table",
        ),
        influx(
            """
            SELECT count("boot") AS "范围内 seen" FROM (
            SELECT last("boot") AS "boot" FROM "gateway_status"
            WHERE "district" =~ /^$district$/ AND $timeFilter
            GROUP BY "station", "device"
            )
            """,
            fmt="table",
        ),
    )


def _gaps() -> statushistory.Panel:
    return panel(
        statushistory.Panel()
        .title("状态上报缺口")
        .description(
            "Gateway status reports per station and interval (at least 5 minutes): red cells "
            "are gaps, intervals in which no status arrived (gateway off, network down or "
            "unplugged)."
        )
        .interval("5m")
        .thresholds(steps((None, "red"), (1, "green")))
        .show_value(cm.VisibilityMode.NEVER)
        .height(8)
        .span(18),
        influx(
            """
            SELECT count("boot") FROM "gateway_status"
            WHERE "district" =~ /^$district$/ AND $timeFilter
            GROUP BY time($__interval), "station" fill(0)
            """,
            alias="$tag_station",
        ),
    )


def _backlog() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("网关缓存积压")
        .description(
            "Records waiting in each station gateway's spool (highest per interval): a backlog "
            "that grows means the station cannot deliver (broker unreachable, refused)."
        )
        .unit("short")
        .height(8)
        .span(12),
        influx(
            """
            SELECT max("spool_backlog") FROM "gateway_status"
            WHERE "district" =~ /^$district$/ AND $timeFilter
            GROUP BY time($__interval), "station" fill(none)
            """,
            alias="$tag_station",
        ),
    )


def _rejected() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("拒收消息（按原因）")
        .description(
            "Messages ingest refused, by reason (bad signature, revoked key, replayed, stale…), "
            "each kept with its payload in the rejected measurement. Rejections whose topic "
            "names no district (bad_topic) are not in a district filter."
        )
        .draw_style(cm.GraphDrawStyle.BARS)
        .stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
        .unit("short")
        .height(8)
        .span(12),
        influx(
            """
            SELECT count("size") FROM "rejected"
            WHERE "district" =~ /^$district$/ AND $timeFilter
            GROUP BY time($__interval), "reason" fill(0)
            """,
            alias="$tag_reason",
        ),
    )


def _ingest() -> timeseries.Panel:
    return panel(
        timeseries.Panel()
        .title("入库吞吐与延迟")
        .description(
            "Ingest workers: records stored per second, and the 99th percentile delay from the "
            "gateway's publish to stored (ms, right axis), from ingest_stats."
        )
        .unit("short")
        .override_by_name(
            "p99 ms",
            [
                dm.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
                dm.DynamicConfigValue(id_val="unit", value="ms"),
            ],
        )
        .height(8)
        .span(24),
        influx(
            """
            SELECT non_negative_derivative(max("accepted_records"), 1s) FROM "ingest_stats"
            WHERE $timeFilter GROUP BY time($__interval), "worker" fill(none)
            """,
            alias="$tag_worker",
        ),
        influx(
            """
            SELECT max("latency_p99_ms") FROM "ingest_stats"
            WHERE $timeFilter GROUP BY time($__interval) fill(none)
            """,
            alias="p99 ms",
        ),
    )


def _open_total() -> stat.Panel:
    return panel(
        stat.Panel()
        .title("未关闭预警")
        .description("Open warnings (any state but closed) in the chosen districts.")
        .thresholds(WARNING_COLOURS)
        .height(12)
        .span(4),
        sql(
            """
            SELECT count(*) AS open_warnings FROM warnings
            WHERE state <> 'closed' AND district_id IN ($district)
            """
        ),
    )


def build() -> db.Dashboard:
    return (
        dashboard(
            UID,
            "加油站监管总览",
            "Overview for every department: stations and their open warnings on the map, "
            "warnings over time by category and district, and data-collection health.",
            tags=["overview"],
        )
        .with_variable(district_variable())
        .with_row(db.Row("预警"))
        .with_panel(_open_total())
        .with_panel(_map())
        .with_panel(_open_by_category())
        .with_panel(_new_warnings("category", "新增预警（按类别）", "category"))
        .with_panel(_new_warnings("district", "新增预警（按区）", "district"))
        .with_row(db.Row("数据采集健康"))
        .with_panel(_gateways_online())
        .with_panel(_gaps())
        .with_panel(_backlog())
        .with_panel(_rejected())
        .with_panel(_ingest())
    )
