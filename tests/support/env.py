"""One test's slice of the shared stack: its own district, database, registry and ingest."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fuelwatch.cloud.common.settings import CloudSettings, MqttEndpoint
from fuelwatch.cloud.ingest.app import build_ingest
from fuelwatch.cloud.ingest.service import IngestService
from fuelwatch.cloud.provisioning.service import provision_gateway
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.core.wire import Algorithm
from fuelwatch.gateway.app import Gateway
from fuelwatch.gateway.settings import GatewayConfig, load_gateway_config
from tests.support.services import CLOUD_PASSWORD, CLOUD_USER, Broker, Influx

T = TypeVar("T")


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


async def eventually(
    fn: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"
) -> T:
    """Poll ``fn`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(fn)
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class StackEnv:
    def __init__(
        self,
        tmp: Path,
        broker: Broker,
        influx: Influx,
        registry_url: str | None = None,
        *,
        migrate: bool = True,
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        self.tmp = tmp
        self.broker = broker
        self.influx = influx
        self.district = f"d{tag}"
        self.db = f"t{tag}"
        self.registry_url = registry_url or f"sqlite:///{tmp}/registry.db"
        self.engine = make_engine(self.registry_url)
        if migrate:  # else the test migrates, e.g. with `fuelwatch registry upgrade`
            upgrade(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        self.settings = CloudSettings(
            _env_file=None,  # type: ignore[call-arg]
            environment="test",
            registry_url=self.registry_url,
            influx_url=influx.url,
            influx_db=self.db,
            mqtt=MqttEndpoint(
                host="127.0.0.1", port=broker.port, username=CLOUD_USER, password=CLOUD_PASSWORD
            ),
            ingest_group=f"g{tag}",
            ingest_client_id=f"ingest-{tag}",
            ingest_district=self.district,
            ingest_session_expiry=600,
            # the tests' webhook receivers listen on loopback, which is refused by default
            webhook_allow_networks=["127.0.0.0/8"],
        )

    def provision(
        self,
        station: str,
        *,
        gateway: str | None = None,
        extra: dict[str, Any] | None = None,
        alg: Algorithm = Algorithm.ED25519,
    ) -> GatewayConfig:
        gateway = gateway or f"gw-{station}"
        bundle = provision_gateway(
            self.sessions,
            district=self.district,
            station=station,
            gateway=gateway,
            out_dir=self.tmp / gateway,
            password_file=None,
            mqtt_port=self.broker.port,
            alg=alg,
        )
        self.broker.add_account(station, bundle.mqtt_password)
        data = yaml.safe_load(bundle.config_file.read_text())
        data = _merge(data, {"publish": {"status_interval": 5}} | (extra or {}))
        bundle.config_file.write_text(yaml.safe_dump(data))
        return load_gateway_config(bundle.config_file)

    @contextlib.asynccontextmanager
    async def ingest(self, **overrides: Any) -> AsyncIterator[IngestService]:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        async with InfluxClient(settings.influx_url, settings.influx_db) as influx:
            service = build_ingest(settings, influx, self.engine)
            task = asyncio.create_task(service.run(), name="test-ingest")
            try:
                await asyncio.wait_for(service.ready.wait(), 20)
                yield service
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @contextlib.asynccontextmanager
    async def gateway(self, config: GatewayConfig) -> AsyncIterator[Gateway]:
        gw = Gateway(config)
        task = asyncio.create_task(gw.run(), name=f"test-gateway-{config.gateway_id}")
        try:
            yield gw
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def process_env(self, **extra: str) -> dict[str, str]:
        """The environment of a ``fuelwatch cloud ...`` subprocess on this stack, plus ``extra``."""
        s = self.settings
        return {
            **os.environ,
            "FUELWATCH_ENVIRONMENT": "test",
            "FUELWATCH_REGISTRY_URL": s.registry_url,
            "FUELWATCH_INFLUX_URL": s.influx_url,
            "FUELWATCH_INFLUX_DB": s.influx_db,
            "FUELWATCH_MQTT_PORT": str(s.mqtt.port),
            "FUELWATCH_MQTT_USERNAME": s.mqtt.username,
            "FUELWATCH_MQTT_PASSWORD": s.mqtt.password,
            "FUELWATCH_WEBHOOK_ALLOW_NETWORKS": json.dumps(s.webhook_allow_networks),
            **extra,
        }

    def close(self) -> None:
        self.engine.dispose()

    def query(self, q: str) -> list[dict[str, object]]:
        return self.influx.query(self.db, q)

    def count(self, measurement: str, where: str = "") -> int:
        try:
            return self.influx.count(self.db, measurement, where)
        except RuntimeError:
            return 0

    async def wait_count(
        self, measurement: str, n: int, *, timeout: float = 30.0, where: str = ""
    ) -> int:
        return await eventually(
            lambda: self.count(measurement, where) >= n and self.count(measurement, where),
            timeout=timeout,
            what=f"{n} points in {measurement}",
        )


async def settle(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("did not settle")


#: A device time for test records: a day ago, on the hour. Ingest refuses records dated
#: before their gateway's registration (minus 30 days) as implausible, so tests that provision
#: a gateway now send times near now.
RECENT_T0 = (time.time_ns() // 1_000_000 // 3_600_000 - 24) * 3_600_000
