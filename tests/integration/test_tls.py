"""The TLS listener: client certificates from the project CA, CN = MQTT user name."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from fuelwatch.cloud.provisioning.service import provision_gateway
from fuelwatch.core.mqtt import MqttClient, MqttConnectError, PublishRejectedError, TlsSettings
from fuelwatch.core.records import InventoryRecord
from fuelwatch.gateway.settings import load_gateway_config
from tests.support.env import RECENT_T0, StackEnv, eventually
from tests.support.services import Broker


async def test_gateway_over_tls_with_client_certificate(
    make_env: Callable[..., StackEnv],
    own_broker: Callable[..., Broker],
) -> None:
    broker = own_broker(tls=True)
    assert broker.tls_port is not None
    assert broker.certs_dir is not None
    env = make_env(broker_=broker)
    cert, key = broker.make_client_cert("TL01")
    tls = {
        "ca_file": str(broker.certs_dir / "ca.crt"),
        "cert_file": str(cert),
        "key_file": str(key),
    }
    config = env.provision(
        "TL01", extra={"mqtt": {"port": broker.tls_port, "tls": tls, "password": None}}
    )
    async with env.ingest(), env.gateway(config) as gw:
        await gw.spool.put(
            "atg1", [InventoryRecord(ts=RECENT_T0, tank=1, product="92", volume=5.0, height=1.0)]
        )
        await env.wait_count("tank_inventory", 1)
        await eventually(lambda: gw.publisher.state.connected, what="connected over TLS")


async def test_tls_certificate_confines_to_own_subtree(own_broker: Callable[..., Broker]) -> None:
    broker = own_broker(tls=True)
    assert broker.tls_port is not None
    assert broker.certs_dir is not None
    cert, key = broker.make_client_cert("TL02")
    tls = TlsSettings(ca_file=broker.certs_dir / "ca.crt", cert_file=cert, key_file=key)
    client = MqttClient(host="127.0.0.1", port=broker.tls_port, client_id="tl02", tls=tls)
    await client.connect()
    try:
        assert await client.publish("fuel/v1/d/TL02/atg1/inventory", b"x") in (0, 16)
        with pytest.raises(PublishRejectedError) as refused:
            await client.publish("fuel/v1/d/TL03/atg1/inventory", b"x")
        assert refused.value.reason_code == 135
    finally:
        await client.disconnect()


async def test_tls_listener_requires_a_client_certificate(
    own_broker: Callable[..., Broker],
) -> None:
    broker = own_broker(tls=True)
    assert broker.tls_port is not None
    assert broker.certs_dir is not None
    client = MqttClient(
        host="127.0.0.1",
        port=broker.tls_port,
        client_id="nocert",
        username="TL04",
        password="whatever",
        tls=TlsSettings(ca_file=broker.certs_dir / "ca.crt"),
    )
    with pytest.raises((MqttConnectError, ssl.SSLError)):
        await client.connect()
    await client.disconnect()


async def test_cli_bundle_with_a_ca_connects_with_tls_and_password(
    make_env: Callable[..., StackEnv],
    own_broker: Callable[..., Broker],
    tmp_path: Path,
) -> None:
    """``fuelwatch provision --ca-cert``: TLS (server certificate checked) + the password."""
    broker = own_broker(tls=True)
    assert broker.tls_password_port is not None
    assert broker.certs_dir is not None
    env = make_env(broker_=broker)
    bundle = provision_gateway(
        env.sessions,
        district=env.district,
        station="TP01",
        gateway="gw-TP01",
        out_dir=tmp_path / "bundle",
        password_file=None,
        mqtt_port=broker.tls_password_port,
        ca_cert=broker.certs_dir / "ca.crt",
    )
    broker.add_account("TP01", bundle.mqtt_password)
    config = load_gateway_config(bundle.config_file)
    assert config.mqtt.tls is not None
    assert config.mqtt.tls.cert_file is None  # no client certificate: the password logs in
    async with env.ingest(), env.gateway(config) as gw:
        await gw.spool.put(
            "atg1", [InventoryRecord(ts=RECENT_T0, tank=1, product="92", volume=5.0, height=1.0)]
        )
        await env.wait_count("tank_inventory", 1)
        assert gw.publisher.state.connected
