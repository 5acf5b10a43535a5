"""The gateway's POS push endpoint, over real HTTP on localhost, into a real spool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import orjson
import pytest

from fuelwatch.core.devices.pos import PosPushConfig
from fuelwatch.core.records import BaseRecord
from fuelwatch.gateway.adapters.base import AdapterContext
from fuelwatch.gateway.adapters.pos import PosPushAdapter
from fuelwatch.gateway.adapters.registry import build_adapter
from fuelwatch.gateway.settings import GatewayConfig
from fuelwatch.gateway.spool import Spool

NOW = 1_741_000_000_000
SALE = {
    "ts": NOW - 5000,
    "order_id": "s1-01-000001",
    "nozzle": 1,
    "product": "92",
    "unit_price": 7.52,
    "volume": 30.12,
    "amount": 226.5,
    "paid": 226.5,
    "payment": "wechat",
}
DELIVERY = {"ts": NOW, "waybill_id": "YD-1", "tank": 1, "product": "92", "volume": 12000.0}
INVENTORY = {
    "ts": NOW,
    "tank": 1,
    "product": "92",
    "book_volume": 15000.0,
    "measured_volume": 14990,
}


@pytest.fixture
async def spool(tmp_path: Path) -> AsyncIterator[Spool]:
    async with Spool(tmp_path / "spool.db", district="d1", station="s1") as s:
        yield s


class GatedSink:
    """Commits to the spool only when the test opens the gate."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.gate = asyncio.Event()
        self.calls = 0

    async def put(self, device: str, records: Sequence[BaseRecord]) -> None:
        self.calls += 1
        await self.gate.wait()
        await self.spool.put(device, records)


class BrokenSink:
    async def put(self, device: str, records: Sequence[BaseRecord]) -> None:
        raise OSError(28, "No space left on device")


@asynccontextmanager
async def endpoint(sink: object, **settings: object) -> AsyncIterator[tuple[PosPushAdapter, str]]:
    config = PosPushConfig(type="pos_push", id="pos", port=0, **settings)  # type: ignore[arg-type]
    adapter = PosPushAdapter(config, AdapterContext(district="d1", station="s1", clock=lambda: NOW))
    task = asyncio.create_task(adapter.run(sink))  # type: ignore[arg-type]
    await asyncio.wait_for(adapter.listening.wait(), 5)
    try:
        yield adapter, f"http://127.0.0.1:{adapter.port}"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def stored(spool: Spool) -> list[tuple[str, dict[str, object]]]:
    return [(row.topic, orjson.loads(row.body)) for row in await spool.read(1000)]


async def test_rows_are_answered_only_after_the_spool_commit(spool):
    sink = GatedSink(spool)
    async with endpoint(sink) as (_, url), httpx.AsyncClient(base_url=url) as client:
        second = {**SALE, "order_id": "s1-01-000002"}
        pending = asyncio.create_task(client.post("/v1/sales", json=[SALE, second]))
        await asyncio.sleep(0.3)
        assert sink.calls == 1
        assert not pending.done()  # no answer before the commit
        assert await stored(spool) == []
        sink.gate.set()
        response = await pending
    assert response.status_code == 200
    assert response.json() == {"accepted": 2}
    rows = await stored(spool)
    assert [topic for topic, _ in rows] == ["fuel/v1/d1/s1/pos/pos_sale"] * 2
    assert [body["order_id"] for _, body in rows] == ["s1-01-000001", "s1-01-000002"]
    assert all(body["gts"] == NOW for _, body in rows)
    assert rows[0][1]["ts"] == SALE["ts"]


async def test_every_endpoint_stores_its_record_kind(spool):
    async with endpoint(spool) as (adapter, url), httpx.AsyncClient(base_url=url) as client:
        for path, row in (("/v1/deliveries", DELIVERY), ("/v1/inventory", INVENTORY)):
            response = await client.post(path, json=[row])
            assert response.status_code == 200, response.text
        assert (await client.post("/v1/sales", json=[])).json() == {"accepted": 0}
    assert [topic.rsplit("/", 1)[1] for topic, _ in await stored(spool)] == [
        "pos_delivery",
        "pos_inventory",
    ]
    assert adapter.accepted_rows == 2
    assert adapter.state() == "starting"  # stopped again


async def test_bad_rows_are_refused_and_nothing_is_stored(spool):
    sink = GatedSink(spool)
    sink.gate.set()
    rows = [
        SALE,
        {**SALE, "volume": "lots"},
        {**SALE, "nozzle": 0, "colour": "red"},
        "not a row",
        {**SALE, "rid": 5},
        {k: v for k, v in SALE.items() if k != "ts"},
    ]
    async with endpoint(sink) as (adapter, url), httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/v1/sales", json=rows)
        assert response.status_code == 400
        body = response.json()
        again = await client.post("/v1/sales", json=[SALE])  # the connection is still usable
        assert again.status_code == 200
    assert "nothing was stored" in body["error"]
    errors = {(e["row"], e["field"]) for e in body["errors"]}
    assert errors == {(1, "volume"), (2, "nozzle"), (2, "colour"), (3, ""), (4, "rid"), (5, "ts")}
    assert [e["message"] for e in body["errors"] if e["row"] == 4] == ["set by the gateway"]
    assert len(await stored(spool)) == 1  # only the good request
    assert sink.calls == 1
    assert adapter.rejected_requests == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "not JSON"), (b'{"rows": []}', "JSON list"), (b"", "not JSON")],
)
async def test_body_must_be_a_json_list(spool, content, message):
    async with endpoint(spool) as (_, url), httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/v1/sales", content=content)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert await stored(spool) == []


async def test_token(spool):
    async with endpoint(spool, token="s3cret") as (_, url), httpx.AsyncClient(base_url=url) as c:
        missing = await c.post("/v1/sales", json=[SALE])
        wrong = await c.post("/v1/sales", json=[SALE], headers={"Authorization": "Bearer nope"})
        right = await c.post("/v1/sales", json=[SALE], headers={"Authorization": "Bearer s3cret"})
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert len(await stored(spool)) == 1


async def test_size_limits(spool):
    big = orjson.dumps([{**SALE, "payment": "x" * 100}] * 40)  # ~10 kB
    assert len(big) > 4096

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    async with endpoint(spool, max_body_bytes=4096, max_rows=3) as (_, url):
        async with httpx.AsyncClient(base_url=url) as client:
            declared = await client.post("/v1/sales", content=big)
        async with httpx.AsyncClient(base_url=url) as client:
            streamed = await client.post("/v1/sales", content=chunks())
        async with httpx.AsyncClient(base_url=url) as client:
            rows = await client.post("/v1/sales", json=[SALE] * 4)
            fits = await client.post("/v1/sales", json=[SALE] * 3)
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert rows.status_code == 413
    assert fits.status_code == 200
    assert len(await stored(spool)) == 3


async def test_paths_and_methods(spool):
    async with endpoint(spool) as (_, url), httpx.AsyncClient(base_url=url) as client:
        missing = await client.post("/v1/refunds", json=[])
        method = await client.get("/v1/sales")
    assert missing.status_code == 404
    assert "/v1/sales" in missing.json()["endpoints"]
    assert method.status_code == 405


async def test_connection_limit(spool):
    async with endpoint(spool, max_connections=1) as (_, url):
        _, idle = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=url) as client:
            busy = await client.post("/v1/sales", json=[SALE])
        idle.close()
        await idle.wait_closed()
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=url) as client:
            later = await client.post("/v1/sales", json=[SALE])
    assert busy.status_code == 503
    assert later.status_code == 200


async def test_spool_failure_is_a_503_the_pos_retries():
    async with endpoint(BrokenSink()) as (_, url), httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/v1/sales", json=[SALE])
    assert response.status_code == 503


async def test_registered_and_configurable(tmp_path):
    config = GatewayConfig.model_validate(
        {
            "gateway_id": "gw1",
            "district": "d1",
            "station": "s1",
            "signing_key": str(tmp_path / "key.pem"),
            "devices": [{"type": "pos_push", "id": "pos", "port": 0, "token": "s3cret"}],
        }
    )
    [device] = config.devices
    adapter = build_adapter(device, AdapterContext(district="d1", station="s1"))
    assert isinstance(adapter, PosPushAdapter)
    assert "s3cret" not in repr(device)  # a secret stays out of logs
