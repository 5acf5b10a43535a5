"""Aggregates on the real influxd: the RP and CQs exist, and a backfill equals raw queries."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from click.testing import CliRunner

from fuelwatch.cli import main
from fuelwatch.cloud.store.aggregates import AGGREGATES, Aggregate, ensure_aggregates
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.cloud.store.lineproto import record_line
from fuelwatch.core import wire
from fuelwatch.core.mqtt import MqttClient
from fuelwatch.core.records import InventoryRecord, TransactionRecord
from fuelwatch.core.wire import Signer
from tests.support.env import StackEnv, eventually
from tests.support.services import Influx

# 2025-11-20 10:00 CST .. 2025-11-23 02:00 CST: crosses local days and UTC days differently
START_MS = int(datetime(2025, 11, 20, 2, 0, tzinfo=UTC).timestamp() * 1000)
HOURS = 64


def raw_lines(seed: int = 7) -> tuple[list[str], float]:
    rng = random.Random(seed)
    lines: list[str] = []
    total = 0.0
    rid = 0
    for station in ("AG01", "AG02"):
        for minute in range(0, HOURS * 60, 7):
            ts = START_MS + minute * 60_000
            rid += 1
            nozzle = rng.randint(1, 4)
            volume = round(rng.uniform(5, 80), 2)
            total += volume
            tx = TransactionRecord(
                rid=rid,
                ts=ts,
                nozzle=nozzle,
                product="92" if nozzle <= 2 else "95",
                order_id=f"o{rid}",
                unit_price=7.5,
                volume=volume,
                amount=round(volume * 7.5, 2),
                start=ts - 60_000,
                end=ts,
            )
            lines.append(record_line(tx, district="agd", station=station, device="disp1"))
            if minute % 10 == 0:
                for tank in (1, 2):
                    rid += 1
                    inv = InventoryRecord(
                        rid=rid,
                        ts=ts,
                        tank=tank,
                        product="92" if tank == 1 else "95",
                        volume=round(rng.uniform(8000, 20000), 1),
                        height=1500.0,
                        water=round(rng.uniform(0, 30), 1),
                    )
                    lines.append(record_line(inv, district="agd", station=station, device="atg1"))
    return lines, total


@pytest.fixture
def agg_db(influx: Influx) -> Iterator[str]:
    db = f"agg{uuid.uuid4().hex[:8]}"
    httpx.post(f"{influx.url}/query", data={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
    yield db
    httpx.post(f"{influx.url}/query", data={"q": f'DROP DATABASE "{db}"'}).raise_for_status()


def write(influx: Influx, db: str, lines: list[str]) -> None:
    resp = httpx.post(f"{influx.url}/write", params={"db": db}, content="\n".join(lines).encode())
    assert resp.status_code == 204, resp.text


def keyed(rows: list[dict[str, object]], tags: tuple[str, ...]) -> dict[tuple[object, ...], dict]:  # type: ignore[type-arg]
    return {(r["time"], *(r[t] for t in tags)): r for r in rows}


def cli(influx: Influx, db: str, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        ["cloud", "influx-setup", *args],
        env={"FUELWATCH_INFLUX_URL": influx.url, "FUELWATCH_INFLUX_DB": db},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_setup_is_idempotent_and_retires_old_definitions(influx: Influx, agg_db: str) -> None:
    async def run() -> None:
        async with InfluxClient(influx.url, agg_db) as client:
            await client.query(
                f'CREATE CONTINUOUS QUERY "fw_sales_1h_v0" ON "{agg_db}" BEGIN SELECT '
                f'sum("volume") INTO "old" FROM "dispenser_transaction" GROUP BY time(1h) END'
            )
            await client.query(  # an operator's own CQ: not ours to drop
                f'CREATE CONTINUOUS QUERY "mine" ON "{agg_db}" BEGIN SELECT '
                f'count("rid") INTO "mine" FROM "tank_inventory" GROUP BY time(1d) END'
            )
            first = await ensure_aggregates(client)
            second = await ensure_aggregates(client)
            assert first.retention_policy == "created"
            assert sorted(first.created) == sorted(a.cq_name for a in AGGREGATES)
            assert first.dropped == ["fw_sales_1h_v0"]
            assert (second.retention_policy, second.created, second.dropped) == ("ok", [], [])

    asyncio.run(run())
    rps = {
        str(r["name"]): r for r in influx.query(agg_db, f'SHOW RETENTION POLICIES ON "{agg_db}"')
    }
    assert rps["autogen"]["duration"] == "0s"  # raw: kept permanently
    assert rps["autogen"]["default"] is True
    assert rps["aggregates"]["duration"] == "0s"
    assert rps["aggregates"]["default"] is False
    resp = httpx.post(f"{influx.url}/query", data={"q": "SHOW CONTINUOUS QUERIES"}).json()
    series = [s for s in resp["results"][0]["series"] if s["name"] == agg_db]
    cqs = dict(series[0]["values"])
    assert set(cqs) == {a.cq_name for a in AGGREGATES} | {"mine"}
    for agg in AGGREGATES:
        text = cqs[agg.cq_name]
        assert f"INTO {agg_db}.aggregates.{agg.name}" in text
        assert f"FROM {agg_db}.autogen.{agg.source}" in text
        assert f"RESAMPLE FOR {agg.resample_for}" in text
    assert "GROUP BY time(1d, 16h)" in cqs["fw_sales_1d_v1"]
    # the command says the same and changes nothing more
    out = cli(influx, agg_db)
    assert "retention policy aggregates: ok" in out
    assert out.count(": kept") == len(AGGREGATES)


def test_backfill_equals_raw_queries(influx: Influx, agg_db: str) -> None:
    lines, total = raw_lines()
    write(influx, agg_db, lines)
    out = cli(influx, agg_db, "--backfill", "--since", "2025-11-20", "--until", "2025-11-23")
    assert "continuous query fw_sales_1h_v1: created" in out
    assert "backfill sales_1h:" in out

    def q(text: str) -> list[dict[str, object]]:
        return influx.query(agg_db, text)

    # hourly sales per nozzle
    tags = ("station", "nozzle", "product")
    raw = keyed(
        [
            r
            for r in q(
                'SELECT sum("volume") AS "volume", sum("amount") AS "amount", count("volume") '
                'AS "transactions" FROM "autogen"."dispenser_transaction" WHERE time >= '
                "'2025-11-19T00:00:00Z' AND time < '2025-11-24T00:00:00Z' "
                'GROUP BY time(1h), "station", "nozzle", "product"'
            )
            if r["transactions"]
        ],
        tags,
    )
    agg = keyed(q('SELECT * FROM "aggregates"."sales_1h"'), tags)
    assert len(agg) > 100
    assert set(agg) == set(raw)
    for k, r in raw.items():
        assert agg[k]["volume"] == pytest.approx(r["volume"])
        assert agg[k]["amount"] == pytest.approx(r["amount"])
        assert agg[k]["transactions"] == r["transactions"]
    assert sum(float(r["volume"]) for r in agg.values()) == pytest.approx(total)  # type: ignore[arg-type]

    # daily sales per station and product: local days, the dashboards' tz('Asia/Shanghai')
    tags = ("station", "product")
    raw = keyed(
        [
            r
            for r in q(
                'SELECT sum("volume") AS "volume", count("volume") AS "transactions" '
                'FROM "autogen"."dispenser_transaction" WHERE time >= '
                "'2025-11-19T00:00:00Z' AND time < '2025-11-24T00:00:00Z' "
                'GROUP BY time(1d), "station", "product" tz(\'Asia/Shanghai\')'
            )
            if r["transactions"]
        ],
        tags,
    )
    agg = keyed(q('SELECT * FROM "aggregates"."sales_1d"'), tags)
    assert len(agg) == 2 * 2 * 4  # stations x products x local days touched (20th..23rd)
    assert set(agg) == set(raw)
    for k, r in raw.items():
        assert agg[k]["volume"] == pytest.approx(r["volume"])
        assert agg[k]["transactions"] == r["transactions"]

    # hourly tank inventory per tank
    tags = ("station", "tank", "product")
    raw = keyed(
        [
            r
            for r in q(
                'SELECT mean("volume") AS "m", min("volume") AS "lo", max("volume") AS "hi", '
                'max("water") AS "w", count("volume") AS "n" FROM "autogen"."tank_inventory" '
                "WHERE time >= '2025-11-19T00:00:00Z' AND time < '2025-11-24T00:00:00Z' "
                'GROUP BY time(1h), "station", "tank", "product"'
            )
            if r["n"]
        ],
        tags,
    )
    agg = keyed(q('SELECT * FROM "aggregates"."tank_1h"'), tags)
    assert set(agg) == set(raw)
    for k, r in raw.items():
        assert agg[k]["volume_mean"] == pytest.approx(r["m"])
        assert agg[k]["volume_min"] == r["lo"]
        assert agg[k]["volume_max"] == r["hi"]
        assert agg[k]["water_max"] == r["w"]
        assert agg[k]["readings"] == r["n"]

    # a second backfill rewrites the same points: nothing doubles
    before = q('SELECT sum("volume") FROM "aggregates"."sales_1h"')[0]["sum"]
    cli(influx, agg_db, "--backfill", "--since", "2025-11-20", "--until", "2025-11-23")
    assert q('SELECT sum("volume") FROM "aggregates"."sales_1h"')[0]["sum"] == before


def test_a_continuous_query_runs_on_the_server_clock(influx: Influx, agg_db: str) -> None:
    """The same rendering, with a 2-second interval, run by influxd itself (CQ check: 1 s)."""
    live = Aggregate(
        "live_2s",
        1,
        "tank_inventory",
        (('count("volume")', "readings"), ('max("volume")', "volume_max")),
        ("station",),
        "2s",
        resample_for="10s",
    )

    async def run() -> None:
        async with InfluxClient(influx.url, agg_db) as client:
            report = await ensure_aggregates(client, aggregates=(live,))
            assert report.created == ["fw_live_2s_v1"]
            for i in range(25):  # 5 s of readings at 5/s, device time = now
                ts = time.time_ns() // 1_000_000
                inv = InventoryRecord(rid=i + 1, ts=ts, tank=1, product="92", volume=i, height=1)
                await client.write(
                    record_line(inv, district="agd", station="LIVE1", device="atg1").encode()
                )
                await asyncio.sleep(0.2)
            await asyncio.sleep(4.5)  # the last bucket closes, a CQ run covers it

    asyncio.run(run())
    agg = influx.query(agg_db, 'SELECT * FROM "aggregates"."live_2s"')
    assert len(agg) >= 2
    raw = {
        r["time"]: r
        for r in influx.query(
            agg_db,
            'SELECT count("volume") AS "n", max("volume") AS "hi" FROM "autogen"."tank_inventory" '
            "WHERE time > now() - 1m GROUP BY time(2s)",
        )
        if r["n"]
    }
    for row in agg:
        assert row["readings"] == raw[row["time"]]["n"]
        assert row["volume_max"] == raw[row["time"]]["hi"]
    assert sum(int(r["readings"]) for r in agg) == 25  # type: ignore[call-overload]


async def test_late_readings_are_aggregated_by_ingest(env: StackEnv) -> None:
    """A spool delivered two days late: the CQs never see it, ingest's refresher does."""
    config = env.provision("LT01")
    topic = f"fuel/v1/{env.district}/LT01/disp1/transaction"
    now = time.time_ns() // 1_000_000
    day_ms, cst_ms = 86_400_000, 8 * 3_600_000
    late = (now + cst_ms) // day_ms * day_ms - cst_ms - 2 * day_ms + 12 * 3_600_000  # noon CST
    rng = random.Random(3)
    records = []
    for i in range(40):
        ts = late + i * 150_000  # every 2.5 min over 100 min
        volume = round(rng.uniform(5, 60), 2)
        records.append(
            TransactionRecord(
                rid=i + 1,
                ts=ts,
                nozzle=1 + i % 2,
                product="92",
                order_id=f"l{i}",
                unit_price=7.5,
                volume=volume,
                amount=round(volume * 7.5, 2),
                start=ts - 60_000,
                end=ts,
            )
        )
    fresh = TransactionRecord(
        rid=99, ts=now, nozzle=1, product="92", order_id="f", unit_price=7.5, volume=10,
        amount=75, start=now - 60_000, end=now,
    )  # fmt: skip
    signer = Signer.from_file(config.signing_key)
    async with env.ingest(influx_aggregates_refresh_interval=0.5) as ingest:
        refresher = ingest.refresher
        assert refresher is not None
        client = MqttClient(
            host="127.0.0.1",
            port=env.broker.port,
            client_id="late-LT01",
            username="LT01",
            password=config.mqtt.resolved_password(),
        )
        await client.connect()
        try:
            for seq, batch in enumerate((records[:20], records[20:], [fresh]), start=1):
                payload = wire.encode(
                    topic=topic,
                    signer=signer,
                    gateway_id=config.gateway_id,
                    seq=seq,
                    boot=1,
                    sent=time.time_ns() // 1_000_000,
                    records=batch,
                )
                await client.publish(topic, payload)
        finally:
            await client.disconnect()
        await env.wait_count("dispenser_transaction", 41)
        await eventually(lambda: refresher.refreshed_days >= 1, what="a refresh")
    assert refresher.refreshed_days == 1  # the late day only; today is the CQs' job
    day_ago = (now - 86_400_000) * 1_000_000  # (an hourly CQ run may add today's hour)
    raw = {
        (r["time"], r["nozzle"]): r
        for r in env.query(
            'SELECT sum("volume") AS "v", count("volume") AS "n" FROM '
            f'"autogen"."dispenser_transaction" WHERE time < {day_ago} '
            'GROUP BY time(1h), "nozzle"'
        )
        if r["n"]
    }
    agg = {
        (r["time"], r["nozzle"]): r
        for r in env.query(f'SELECT * FROM "aggregates"."sales_1h" WHERE time < {day_ago}')
    }
    assert set(agg) == set(raw)
    for k, r in raw.items():
        assert agg[k]["volume"] == pytest.approx(r["v"])
        assert agg[k]["transactions"] == r["n"]
    assert sum(int(r["transactions"]) for r in agg.values()) == 40  # type: ignore[call-overload]
