"""Compose one ingest worker process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from fuelwatch.cloud.common.ops_http import OpsServer
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.ingest.keys import KeyStore
from fuelwatch.cloud.ingest.sequence import SequenceStore
from fuelwatch.cloud.ingest.service import IngestService, StatsCollector
from fuelwatch.cloud.ingest.streaming import StreamingChecker
from fuelwatch.cloud.store.aggregates_refresh import LateDataRefresher
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, require_schema
from fuelwatch.cloud.store.influx import InfluxClient

__all__ = ["build_ingest", "run_ingest"]

LOGGER = logging.getLogger("fuelwatch.cloud.ingest")


def build_ingest(settings: CloudSettings, influx: InfluxClient, engine: Engine) -> IngestService:
    require_schema(engine)
    sessions = make_sessionmaker(engine)
    streaming = (
        StreamingChecker(
            sessions,
            district=settings.ingest_district,
            queue_size=settings.streaming_queue_size,
            interval=settings.streaming_interval,
            worker=settings.ingest_client_id,
            retry=settings.streaming_registry_retry,
        )
        if settings.streaming_enabled
        else None
    )
    return IngestService(
        settings,
        influx=influx,
        keys=KeyStore(sessions),
        sequences=SequenceStore(sessions),
        streaming=streaming,
        refresher=LateDataRefresher(
            influx,
            district=None if settings.ingest_district == "+" else settings.ingest_district,
            interval=settings.influx_aggregates_refresh_interval,
        )
        if settings.influx_aggregates
        else None,
    )


async def run_ingest(settings: CloudSettings) -> None:
    """Run until SIGINT/SIGTERM. Unacknowledged messages stay with the broker."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, task.cancel)
    async with InfluxClient(
        settings.influx_url,
        settings.influx_db,
        username=settings.influx_username,
        password=settings.influx_password,
    ) as influx:
        engine = make_engine(settings.registry_url)
        service = build_ingest(settings, influx, engine)
        registry = CollectorRegistry()
        registry.register(StatsCollector(service))
        ops = (
            OpsServer(
                host=settings.ingest_ops_host,
                port=settings.ingest_ops_port,
                registry=registry,
                healthy=service.ready.is_set,
            )
            if settings.ingest_ops_port is not None
            else contextlib.nullcontext()
        )
        try:
            async with ops:
                await service.run()
        except asyncio.CancelledError:
            LOGGER.info("ingest %s stopped", settings.ingest_client_id)
        finally:
            engine.dispose()
