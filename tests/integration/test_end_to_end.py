"""A station's records travel gateway -> Mosquitto -> ingest -> InfluxDB unchanged."""

from __future__ import annotations

import asyncio
import random

from fuelwatch.core.records import (
    AlarmRecord,
    BaseRecord,
    InventoryRecord,
    NozzleEventRecord,
    TotalizerRecord,
    TransactionRecord,
)
from tests.support.env import RECENT_T0, StackEnv, eventually

T0 = RECENT_T0


def make_records(n: int, seed: int = 1) -> list[tuple[str, BaseRecord]]:
    rng = random.Random(seed)
    out: list[tuple[str, BaseRecord]] = []
    for i in range(n):
        ts = T0 + i * 1000
        kind = i % 4
        if kind == 0:
            out.append(
                (
                    "atg1",
                    InventoryRecord(
                        ts=ts,
                        gts=ts + 5,
                        tank=1 + i % 3,
                        product="92",
                        volume=round(rng.uniform(1e3, 3e4), 1),
                        tc_volume=12000.5,
                        ullage=100.0,
                        height=1234.5,
                        water=3.0,
                        temperature=17.25,
                        water_volume=1.5,
                        status=0,
                    ),
                )
            )
        elif kind == 1:
            out.append(
                (
                    "disp1",
                    TransactionRecord(
                        ts=ts,
                        nozzle=1 + (i // 4) % 4,
                        product="95",
                        order_id=f"o-{i}",
                        unit_price=8.03,
                        volume=30.0,
                        amount=240.9,
                        paid=240.9,
                        start=ts - 50_000,
                        end=ts,
                        totalizer_before=1000.0 + i,
                        totalizer_after=1030.0 + i,
                    ),
                )
            )
        elif kind == 2:
            out.append(("disp1", NozzleEventRecord(ts=ts, nozzle=2, product="95", event="lift")))
        else:
            out.append(
                ("disp1", TotalizerRecord(ts=ts, nozzle=3, product="0", volume_total=123456.78))
            )
    return out


async def test_records_arrive_exactly_once_and_unchanged(env: StackEnv) -> None:
    config = env.provision("ST01")
    sent = make_records(200)
    async with env.ingest(), env.gateway(config) as gw:
        for device, record in sent:
            await gw.spool.put(device, [record])
        await env.wait_count("dispenser_transaction", 50)
        await env.wait_count("tank_inventory", 50)
        await env.wait_count("totalizer", 50)
        await env.wait_count("nozzle_event", 50)
        await eventually(lambda: gw.spool.stats().backlog == 0, what="spool drained")

    rows = env.query('SELECT * FROM "tank_inventory" ORDER BY time')
    expected = [r for d, r in sent if isinstance(r, InventoryRecord)]
    assert len(rows) == len(expected)
    for row, rec in zip(rows, expected, strict=True):
        assert row["time"] == rec.ts  # ms precision survives; rid lives in the nanoseconds
        assert row["volume"] == rec.volume
        assert row["tank"] == str(rec.tank)
        assert row["product"] == "92"
        assert row["station"] == "ST01"
        assert row["district"] == env.district
        assert row["device"] == "atg1"
        assert row["temperature"] == 17.25
        assert row["gts"] == rec.ts + 5
    tx = env.query('SELECT * FROM "dispenser_transaction" ORDER BY time')
    assert [r["order_id"] for r in tx] == [f"o-{i}" for i in range(1, 200, 4)]
    assert {r["nozzle"] for r in tx} == {"1", "2", "3", "4"}
    assert env.count("rejected") == 0


async def test_alarm_and_status_records_are_stored(env: StackEnv) -> None:
    config = env.provision("ST02")
    async with env.ingest(), env.gateway(config) as gw:
        await gw.spool.put(
            "atg1",
            [
                AlarmRecord(
                    ts=T0, code="probe_out", message="probe 2 out", tank=2, severity="critical"
                )
            ],
        )
        await env.wait_count("device_alarm", 1)
        await env.wait_count("gateway_status", 1)
    alarm = env.query('SELECT * FROM "device_alarm"')[0]
    assert alarm["code"] == "probe_out"
    assert alarm["active"] is True
    status = env.query('SELECT * FROM "gateway_status" WHERE "state" = \'online\'')
    assert status
    assert status[0]["device"] == "gw-ST02"


async def test_ingest_restart_does_not_take_retained_status_for_a_replay(env: StackEnv) -> None:
    """Retained birth/Will messages come back on re-subscribe; they are not attacks."""
    config = env.provision("ST03")
    async with env.ingest(), env.gateway(config):
        await env.wait_count("gateway_status", 1)
    for _ in range(2):  # restart ingest twice, gateway gone: only retained messages remain
        async with env.ingest() as ingest:
            await asyncio.sleep(3)
            assert ingest.stats.rejected.total() == 0, ingest.stats.rejected
    assert env.count("rejected") == 0
