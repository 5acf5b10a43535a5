"""The gateway process: adapters, spool and publisher composed under one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from pathlib import Path

from fuelwatch.wire import Signer
from gateway.adapters.base import Adapter, AdapterContext
from gateway.adapters.registry import build_adapter
from gateway.publisher import Publisher
from gateway.settings import GatewayConfig
from gateway.spool import Spool

__all__ = ["Gateway", "run_gateway"]

LOGGER = logging.getLogger("gateway")
BOUNDS_INTERVAL = 60.0


class Gateway:
    """Owns the parts of one gateway; ``run`` until cancelled."""

    def __init__(self, config: GatewayConfig, *, logger: logging.Logger | None = None) -> None:
        self.config = config
        self.log = logger or LOGGER
        self.signer = Signer.from_file(config.signing_key)
        ctx = AdapterContext(
            district=config.district, station=config.station, logger=self.log.getChild("adapters")
        )
        self.adapters: list[Adapter] = [build_adapter(dev, ctx) for dev in config.devices]
        self.spool = Spool(
            config.spool.path,
            district=config.district,
            station=config.station,
            max_age_days=config.spool.max_age_days,
            max_bytes=config.spool.max_bytes,
            synchronous=config.spool.synchronous,
            logger=self.log.getChild("spool"),
        )
        self.publisher = Publisher(
            config=config,
            spool=self.spool,
            signer=self.signer,
            device_states=self.device_states,
            logger=self.log.getChild("publisher"),
        )
        self.status_file = config.spool.path.with_name("status.json")

    def device_states(self) -> dict[str, str]:
        return {a.device_id: a.state() for a in self.adapters}

    async def run(self) -> None:
        async with self.spool:
            await self.spool.enforce_bounds()
            self.log.info(
                "gateway %s for station %s/%s: %d device(s), spool %s (%d record(s) waiting)",
                self.config.gateway_id,
                self.config.district,
                self.config.station,
                len(self.adapters),
                self.config.spool.path,
                self.spool.stats().backlog,
            )
            async with asyncio.TaskGroup() as tg:
                for adapter in self.adapters:
                    tg.create_task(self._supervise(adapter), name=f"adapter-{adapter.device_id}")
                tg.create_task(self.publisher.run(), name="publisher")
                tg.create_task(self._housekeeping(), name="housekeeping")

    async def _supervise(self, adapter: Adapter) -> None:
        """An adapter bug must not take the gateway down: log, wait, start it again."""
        delay = 1.0
        while True:
            try:
                await adapter.run(self.spool)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception(
                    "adapter %s crashed; restarting in %.0fs", adapter.device_id, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def _housekeeping(self) -> None:
        while True:
            await self.spool.enforce_bounds()
            self.write_status_file()
            await asyncio.sleep(min(BOUNDS_INTERVAL, self.config.publish.status_interval))

    def write_status_file(self) -> None:
        record = self.publisher.status_record(
            "online" if self.publisher.state.connected else "offline"
        )
        data = record.model_dump(exclude={"rid"})
        data["connected"] = self.publisher.state.connected
        data["published_records"] = self.publisher.state.published_records
        data["held_topics"] = sorted(self.publisher.state.held_topics)
        tmp = self.status_file.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
            tmp.replace(self.status_file)
        except OSError as exc:
            self.log.warning("cannot write %s: %s", self.status_file, exc.strerror)


def read_status_file(path: Path) -> dict[str, object]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


async def run_gateway(config: GatewayConfig) -> None:
    """Run until SIGINT/SIGTERM, then publish the offline status and stop cleanly."""
    gateway = Gateway(config)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, task.cancel)
    try:
        await gateway.run()
    except asyncio.CancelledError:
        gateway.log.info("gateway %s stopped", config.gateway_id)
