"""Provisioning through the API, end to end on real parts.

Provision a gateway over HTTP -> the API writes the station's MQTT account to the broker's
password file and signals the broker -> a real gateway loads the returned bundle, connects
and publishes signed records -> ingest stores them in InfluxDB -> the key is revoked over
HTTP -> within the key cache refresh, ingest rejects the gateway's messages as
``revoked_key`` and stores nothing more from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine

from fuelwatch.cloud.accounts.service import create_user, issue_tokens
from fuelwatch.cloud.api.app import create_app
from fuelwatch.cloud.common.settings import ApiSettings, CloudSettings, MqttEndpoint
from fuelwatch.cloud.ingest.app import build_ingest
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.gateway.app import Gateway
from fuelwatch.gateway.settings import load_gateway_config
from tests.support.env import eventually
from tests.support.services import CLOUD_PASSWORD, CLOUD_USER, Broker, Influx, can_connect


def _settings(db_url: str, tmp: Path, broker: Broker, influx: Influx, **api: Any) -> CloudSettings:
    tag = uuid.uuid4().hex[:8]
    pid_file = tmp / "mosquitto.pid"
    pid_file.write_text(str(broker.process.pid))
    return CloudSettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        registry_url=db_url,
        influx_url=influx.url,
        influx_db=f"t{tag}",
        mqtt=MqttEndpoint(
            host="127.0.0.1", port=broker.port, username=CLOUD_USER, password=CLOUD_PASSWORD
        ),
        ingest_group=f"g{tag}",
        ingest_client_id=f"ingest-{tag}",
        ingest_district=f"d{tag}",
        ingest_session_expiry=600,
        api=ApiSettings(
            attachments_dir=tmp / "attachments",
            mqtt_password_file=broker.files.password_file,
            broker_pid_file=pid_file,
            bundle_mqtt_port=broker.port,
            **api,
        ),
    )


async def _client(
    settings: CloudSettings,
) -> tuple[httpx.AsyncClient, dict[str, str], Engine]:
    engine = make_engine(settings.registry_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        user = create_user(
            session,
            username="devmgr",
            department="platform_admin",
            role="device_manager",
            all_districts=True,
        )
        token = issue_tokens(session, user, settings.api).access_token
    app = create_app(settings, engine=engine)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    return client, {"Authorization": f"Bearer {token}"}, engine


def _write_bundle(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
        if name.endswith((".key", ".password")):
            (folder / name).chmod(0o600)


async def _count(influx: Influx, db: str, q: str) -> int:
    try:
        rows = await asyncio.to_thread(influx.query, db, q)
    except RuntimeError:
        return 0
    return int(rows[0]["count"]) if rows else 0  # type: ignore[call-overload]


@contextlib.asynccontextmanager
async def running(coro: Any, name: str) -> AsyncIterator[None]:
    task = asyncio.create_task(coro, name=name)
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


async def test_provision_connect_accept_revoke_reject(
    db_url: str, tmp_path: Path, broker: Broker, influx: Influx
) -> None:
    settings = _settings(db_url, tmp_path, broker, influx)
    district, station, gw_id = settings.ingest_district, f"ST{uuid.uuid4().hex[:6]}", "gw-prov"
    client, headers, engine = await _client(settings)
    async with client:
        r = await client.post("/api/v1/districts", json={"id": district}, headers=headers)
        assert r.status_code == 201, r.text
        r = await client.post(
            "/api/v1/stations", json={"id": station, "district": district}, headers=headers
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/api/v1/stations/{station}/gateways",
            json={"gateway": gw_id, "credential": "password"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        bundle = r.json()
        assert bundle["broker_reloaded"] is True
        assert set(bundle["files"]) == {"gateway.yaml", "signing.key", "mqtt.password"}
        password = bundle["files"]["mqtt.password"]
        # the broker took the new account (SIGHUP from the API)
        await eventually(
            lambda: can_connect(broker.port, station, password) == 0, what="broker account"
        )
        # a second gateway of the station must share the password, not silently replace it
        r = await client.post(
            f"/api/v1/stations/{station}/gateways",
            json={"gateway": "gw-second", "credential": "password"},
            headers=headers,
        )
        assert r.status_code == 409
        assert "already has an MQTT account" in r.json()["detail"]

        r = await client.put(
            f"/api/v1/gateways/{gw_id}/devices/atg1",
            json={"type": "simulated_tank_gauge", "settings": {"tanks": 2, "poll_interval": 0.5}},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        folder = tmp_path / "bundle"
        _write_bundle(folder, bundle["files"])
        config = (await client.get(f"/api/v1/gateways/{gw_id}/config", headers=headers)).json()
        config["publish"] = {"status_interval": 1}
        (folder / "gateway.yaml").write_text(yaml.safe_dump(config))
        gw_config = load_gateway_config(folder / "gateway.yaml")
        assert [d.id for d in gw_config.devices] == ["atg1"]

        q_ok = f"SELECT count(\"volume\") FROM tank_inventory WHERE station = '{station}'"
        q_rev = "SELECT count(\"size\") FROM rejected WHERE reason = 'revoked_key'"
        async with InfluxClient(settings.influx_url, settings.influx_db) as store:
            ingest = build_ingest(settings, store, engine)
            gateway = Gateway(gw_config)
            async with running(ingest.run(), "ingest"):
                await asyncio.wait_for(ingest.ready.wait(), 20)
                async with running(gateway.run(), "gateway"):
                    assert await _wait(lambda: _count(influx, settings.influx_db, q_ok), 4)
                    assert await _count(influx, settings.influx_db, q_rev) == 0

                    r = await client.post(
                        f"/api/v1/gateways/{gw_id}/keys/{bundle['kid']}/revoke", headers=headers
                    )
                    assert r.status_code == 200
                    assert r.json()["revoked_at"] is not None
                    revoked_at = time.monotonic()
                    assert await _wait(lambda: _count(influx, settings.influx_db, q_rev), 1)
                    assert time.monotonic() - revoked_at < 15  # the 5 s key refresh, plus batching
                    stored = await _count(influx, settings.influx_db, q_ok)
                    rejected = await _count(influx, settings.influx_db, q_rev)
                    await asyncio.sleep(3)
                    assert await _count(influx, settings.influx_db, q_ok) == stored
                    assert await _count(influx, settings.influx_db, q_rev) > rejected
    assert ingest.stats.rejected["revoked_key"] > 0
    ingest.keys._sessions.kw["bind"].dispose()  # PostgreSQL connections close now, not in GC
    engine.dispose()


async def _wait(fn: Any, n: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    last = 0
    while time.monotonic() < deadline:
        last = await fn()
        if last >= n:
            return last
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out waiting for {n} (last {last})")


async def test_provision_with_a_client_certificate_from_the_project_ca(
    tmp_path: Path, own_broker: Any, influx: Influx
) -> None:
    """credential=certificate: the API signs a client certificate (CN = station) with the
    project CA; the gateway logs in on the TLS listener with it, no password involved."""
    from fuelwatch.cloud.store.db import upgrade  # noqa: PLC0415

    tls_broker: Broker = own_broker(tls=True)
    assert tls_broker.certs_dir is not None
    db_url = f"sqlite:///{tmp_path}/registry.db"
    upgrade(make_engine(db_url))
    settings = _settings(
        db_url,
        tmp_path,
        tls_broker,
        influx,
        ca_cert_file=tls_broker.certs_dir / "ca.crt",
        ca_key_file=tls_broker.certs_dir / "ca.key",
        bundle_mqtt_tls_port=tls_broker.tls_port,
    )
    district, station = settings.ingest_district, f"ST{uuid.uuid4().hex[:6]}"
    client, headers, engine = await _client(settings)
    async with client:
        await client.post("/api/v1/districts", json={"id": district}, headers=headers)
        await client.post(
            "/api/v1/stations", json={"id": station, "district": district}, headers=headers
        )
        r = await client.post(
            f"/api/v1/stations/{station}/gateways",
            json={"gateway": "gw-tls", "credential": "certificate"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        bundle = r.json()
        assert set(bundle["files"]) == {
            "gateway.yaml",
            "signing.key",
            "client.crt",
            "client.key",
            "ca.crt",
        }
        folder = tmp_path / "bundle"
        _write_bundle(folder, bundle["files"])
        config = yaml.safe_load((folder / "gateway.yaml").read_text())
        assert config["mqtt"]["port"] == tls_broker.tls_port
        assert "password_file" not in config["mqtt"]
        gw_config = load_gateway_config(folder / "gateway.yaml")
        q = f"SELECT count(\"boot\") FROM gateway_status WHERE station = '{station}'"
        async with InfluxClient(settings.influx_url, settings.influx_db) as store:
            ingest = build_ingest(settings, store, engine)
            gateway = Gateway(gw_config)
            async with running(ingest.run(), "ingest"):
                await asyncio.wait_for(ingest.ready.wait(), 20)
                async with running(gateway.run(), "gateway"):
                    assert await _wait(lambda: _count(influx, settings.influx_db, q), 1)
    engine.dispose()


async def test_provisioning_defaults_to_tls_with_a_password(
    tmp_path: Path, own_broker: Any, influx: Influx
) -> None:
    """Issue 13 #9: no credential asked for -> tls_password: the bundle checks the broker's
    certificate against ca.crt and logs in with the station's password over TLS."""
    from fuelwatch.cloud.store.db import upgrade  # noqa: PLC0415

    tls_broker: Broker = own_broker(tls=True)
    assert tls_broker.certs_dir is not None
    db_url = f"sqlite:///{tmp_path}/registry.db"
    upgrade(make_engine(db_url))
    settings = _settings(
        db_url,
        tmp_path,
        tls_broker,
        influx,
        ca_cert_file=tls_broker.certs_dir / "ca.crt",
        bundle_mqtt_tls_password_port=tls_broker.tls_password_port,
    )
    district, station = settings.ingest_district, f"ST{uuid.uuid4().hex[:6]}"
    client, headers, engine = await _client(settings)
    async with client:
        await client.post("/api/v1/districts", json={"id": district}, headers=headers)
        await client.post(
            "/api/v1/stations", json={"id": station, "district": district}, headers=headers
        )
        r = await client.post(
            f"/api/v1/stations/{station}/gateways", json={"gateway": "gw-tp"}, headers=headers
        )
        assert r.status_code == 201, r.text
        bundle = r.json()
        assert bundle["credential"] == "tls_password"
        assert set(bundle["files"]) == {"gateway.yaml", "signing.key", "mqtt.password", "ca.crt"}
        folder = tmp_path / "bundle"
        _write_bundle(folder, bundle["files"])
        config = yaml.safe_load((folder / "gateway.yaml").read_text())
        assert config["mqtt"]["port"] == tls_broker.tls_password_port
        assert config["mqtt"]["tls"] == {"ca_file": "ca.crt"}
        gw_config = load_gateway_config(folder / "gateway.yaml")
        q = f"SELECT count(\"boot\") FROM gateway_status WHERE station = '{station}'"
        async with InfluxClient(settings.influx_url, settings.influx_db) as store:
            ingest = build_ingest(settings, store, engine)
            gateway = Gateway(gw_config)
            async with running(ingest.run(), "ingest"):
                await asyncio.wait_for(ingest.ready.wait(), 20)
                async with running(gateway.run(), "gateway"):
                    assert await _wait(lambda: _count(influx, settings.influx_db, q), 1)
    engine.dispose()
