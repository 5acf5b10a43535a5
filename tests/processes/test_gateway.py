"""``fuelwatch gateway run -c BUNDLE``, a fresh process, publishes what its spool holds, and
``fuelwatch cloud ingest``, another, stores it: every record once, the spool emptied."""

from __future__ import annotations

import json
import sqlite3

import yaml

from fuelwatch.core.records import InventoryRecord
from fuelwatch.gateway.settings import GatewayConfig
from fuelwatch.gateway.spool import Spool
from tests.processes.conftest import BOTH
from tests.processes.launch import Launch, Shipped, Site, ingest_process, run_to_end
from tests.support.env import RECENT_T0, eventually

RECORDS = 400


async def spool_readings(config: GatewayConfig, n: int) -> None:
    """What a gateway that was offline has waiting: ``n`` gauge readings, already spooled."""
    async with Spool(config.spool.path, district=config.district, station=config.station) as spool:
        await spool.put(
            "atg1",
            [
                InventoryRecord(
                    ts=RECENT_T0 + i * 1000,
                    tank=1 + i % 4,
                    product="92",
                    volume=10_000.0 - i,
                    height=1500.0,
                )
                for i in range(n)
            ],
        )


def backlog(config: GatewayConfig) -> int:
    with sqlite3.connect(config.spool.path) as db:
        return int(db.execute("SELECT count(*) FROM records").fetchone()[0])


@BOTH
async def test_spooled_records_reach_influxdb_once(launch: Launch, site: Site) -> None:
    stack = site.stack
    config = stack.provision("PG01")
    bundle = config.signing_key.parent / "gateway.yaml"
    data = yaml.safe_load(bundle.read_text(encoding="utf-8"))
    data["devices"] = []  # nothing new: only what is spooled
    bundle.write_text(yaml.safe_dump(data), encoding="utf-8")
    await spool_readings(config, RECORDS)
    assert backlog(config) == RECORDS
    gateway = launch.command("gateway", site, config=bundle)
    async with ingest_process(launch, site), Shipped(gateway, site) as gw:
        await stack.wait_count("tank_inventory", RECORDS, timeout=60)
        await eventually(lambda: backlog(config) == 0, what="the spool confirmed and emptied")
        await eventually(lambda: stack.count("gateway_status") >= 1, what="its birth message")
        # what docker-compose's health check of the station box runs, and the README shows
        status = run_to_end(launch.command("gateway-status", site, config=bundle))
        assert status.returncode == 0, status.stderr[-2000:]
        assert {"state", "spool_backlog", "connected"} <= set(json.loads(status.stdout))
    rids = sorted(int(r["rid"]) for r in stack.query('SELECT "rid" FROM "tank_inventory"'))  # type: ignore[call-overload]
    assert rids == list(range(1, RECORDS + 1))  # every record, once
    assert stack.query('SELECT * FROM "rejected"') == []
    assert "stopped" in gw.log()
