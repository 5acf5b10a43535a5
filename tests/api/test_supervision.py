"""Supervision views against a real InfluxDB, with points written as ingest writes them."""

from __future__ import annotations

import time
import uuid

import httpx

from fuelwatch.cloud.api.deps import AppState
from fuelwatch.cloud.store.lineproto import record_line, write_line
from fuelwatch.core.records import GatewayStatusRecord, TransactionRecord
from tests.api.conftest import ApiEnv
from tests.support.services import Influx

SALES = [  # station, district, product, price, volume
    ("S1", "d1", "92", 7.5, 30.0),
    ("S1", "d1", "92", 7.5, 30.0),
    ("S1", "d1", "92", 7.5, 30.0),
    ("S2", "d1", "95", 8.0, 40.0),
    ("S2", "d1", "95", 8.0, 40.0),
    ("S3", "d2", "92", 7.6, 50.0),
]


def _load(influx: Influx, db: str) -> None:
    now = int(time.time() * 1000)
    lines = []
    for i, (station, district, product, price, volume) in enumerate(SALES):
        ts = now - 3_600_000 + i * 1000
        rec = TransactionRecord(
            rid=i,
            ts=ts,
            nozzle=1,
            product=product,
            order_id=f"o{i}",
            unit_price=price,
            volume=volume,
            amount=round(price * volume, 2),
            start=ts - 60_000,
            end=ts,
        )
        lines.append(record_line(rec, district=district, station=station, device="disp1"))
    status = GatewayStatusRecord(
        rid=99, ts=now - 60_000, state="online", boot=now - 600_000, spool_backlog=5
    )
    lines.append(record_line(status, district="d1", station="S1", device="gw-S1"))
    lines.append(
        write_line(
            "rejected",
            {"reason": "bad_signature", "district": "d1", "station": "S1"},
            {"size": 100},
            (now - 120_000) * 1_000_000,
        )
    )
    httpx.post(f"{influx.url}/query", data={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
    httpx.post(
        f"{influx.url}/write", params={"db": db, "precision": "ns"}, content="\n".join(lines)
    ).raise_for_status()


def _point_at_influx(api: ApiEnv, influx: Influx) -> None:
    db = f"sup{uuid.uuid4().hex[:8]}"
    _load(influx, db)
    settings = api.settings.model_copy(update={"influx_url": influx.url, "influx_db": db})
    api.app.state.fuelwatch = AppState(settings=settings, sessions=api.sessions)


def test_sales_and_prices_by_scope(api: ApiEnv, influx: Influx) -> None:
    _point_at_influx(api, influx)
    officer = api.as_user("officer1")
    rows = api.client.get("/api/v1/supervision/sales", headers=officer).json()
    by_station = {r["station"]: (r["volume_l"], r["revenue"], r["transactions"]) for r in rows}
    assert by_station == {"S1": (90.0, 675.0, 3), "S2": (80.0, 640.0, 2)}
    # a filter outside the scope finds nothing
    assert (
        api.client.get(
            "/api/v1/supervision/sales", params={"station": "S3"}, headers=officer
        ).json()
        == []
    )
    only_s1 = api.client.get("/api/v1/supervision/sales", headers=api.as_user("station1")).json()
    assert [r["station"] for r in only_s1] == ["S1"]
    city = api.client.get(
        "/api/v1/supervision/sales",
        params={"group_by": ["district", "product"], "interval": "1d"},
        headers=api.as_user("admin"),
    ).json()
    totals: dict[tuple[str, str], float] = {}
    for r in city:
        assert r["time"] is not None
        key = (r["district"], r["product"])
        totals[key] = totals.get(key, 0) + r["volume_l"]
    assert totals == {("d1", "92"): 90.0, ("d1", "95"): 80.0, ("d2", "92"): 50.0}

    prices = api.client.get(
        "/api/v1/supervision/prices", params={"group_by": "district"}, headers=api.as_user("admin")
    ).json()
    got = {(p["product"], p["district"]): (p["min"], p["max"], p["transactions"]) for p in prices}
    assert got == {
        ("92", "d1"): (7.5, 7.5, 3),
        ("95", "d1"): (8.0, 8.0, 2),
        ("92", "d2"): (7.6, 7.6, 1),
    }


def test_collection_health(api: ApiEnv, influx: Influx) -> None:
    _point_at_influx(api, influx)
    rows = api.client.get(
        "/api/v1/supervision/collection-health",
        params={"hours": 1},
        headers=api.as_user("officer1"),
    ).json()
    by_station = {r["station"]: r for r in rows}
    assert set(by_station) == {"S1", "S2"}
    s1, s2 = by_station["S1"], by_station["S2"]
    assert s1["online"] is True
    assert s1["spool_backlog"] == 5
    assert s1["rejected"] == {"bad_signature": 1}
    assert s1["gateways"][0]["gateway"] == "gw-S1"
    assert 0 < s1["gap_buckets"] < 7  # one status in the last hour: the other buckets are gaps
    assert s2["last_seen"] is None
    assert s2["online"] is False
    assert s2["gap_buckets"] == 6


def test_influx_unreachable_is_503_not_500(api: ApiEnv) -> None:
    r = api.client.get("/api/v1/supervision/sales", headers=api.as_user("admin"))
    assert r.status_code == 503
    monitor = api.as_user("admin")  # the detail of /health and /metrics: system.monitor
    health = api.client.get("/health", headers=monitor).json()
    assert health["checks"]["database"] == "ok"
    assert health["checks"]["influxdb"].startswith("unavailable")
    metrics = api.client.get("/metrics", headers=monitor).text
    assert (
        'fuelwatch_api_requests_total{method="GET",'
        'route="/api/v1/supervision/sales",status="503"} 1.0' in metrics
    )
