"""The ingest worker's /health and /metrics (what `fuelwatch cloud ingest` serves when
FUELWATCH_INGEST_OPS_PORT is set)."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry

from fuelwatch.cloud.common.ops_http import OpsServer
from fuelwatch.cloud.ingest.service import StatsCollector
from fuelwatch.core.records import InventoryRecord
from tests.support.env import RECENT_T0, StackEnv


async def test_health_and_metrics(env: StackEnv) -> None:
    config = env.provision("OPS1")
    async with env.ingest() as service, env.gateway(config) as gw:
        registry = CollectorRegistry()
        registry.register(StatsCollector(service))
        async with (
            OpsServer(
                host="127.0.0.1", port=0, registry=registry, healthy=service.ready.is_set
            ) as ops,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops.port}") as http,
        ):
            assert (await http.get("/health")).status_code == 200
            await gw.spool.put(
                "atg1",
                [InventoryRecord(ts=RECENT_T0, tank=1, product="92", volume=1.0, height=2.0)],
            )
            await env.wait_count("tank_inventory", 1)
            text = (await http.get("/metrics")).text
            assert "fuelwatch_ingest_ready 1.0" in text
            accepted = next(
                line
                for line in text.splitlines()
                if line.startswith("fuelwatch_ingest_accepted_records_total")
            )
            assert float(accepted.split()[-1]) >= 1
            assert (await http.post("/metrics")).status_code == 405
            assert (await http.get("/nope")).status_code == 404
            service.ready.clear()
            assert (await http.get("/health")).status_code == 503
