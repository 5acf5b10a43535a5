"""The gateway process: adapters, spool and publisher composed under one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import time
from pathlib import Path

from fuelwatch.core.retry import Backoff
from fuelwatch.core.wire import Signer
from fuelwatch.gateway.adapters.base import Adapter, AdapterContext
from fuelwatch.gateway.adapters.registry import build_adapter
from fuelwatch.gateway.publisher import Publisher
from fuelwatch.gateway.settings import GatewayConfig
from fuelwatch.gateway.spool import Spool

__all__ = ["Gateway", "run_gateway"]

LOGGER = logging.getLogger("gateway")
BOUNDS_INTERVAL = 60.0


class Gateway:
    """Owns the parts of one gateway; ``run`` until cancelled."""

    def __init__(self, config: GatewayConfig, *, logger: logging.Logger | None = None) -> None:
        self.config = config
        self.log = logger or LOGGER
        self.signer = Signer.from_pem(config.signing_key_pem())  # opened if sealed (SM4)
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
            seal_with=config.box_key() if config.sealing and config.sealing.spool else None,
        )
        self.publisher = Publisher(
            config=config,
            spool=self.spool,
            signer=self.signer,
            device_states=self.device_states,
            logger=self.log.getChild("publisher"),
        )
        self.status_file = config.spool.path.with_name("status.json")
        self._status_warned = 0.0
        self._adapter_tasks: list[asyncio.Task[None]] = []

    def cancel_stragglers(self) -> None:
        """Cancel adapter tasks again that are still running after a stop.

        Python 3.11's ``asyncio.wait_for`` loses a cancellation that arrives as the awaited
        poll finishes (gh-86296; the adapters poll through it), and the task group then waits
        for that adapter forever (seen: 3 stops in 17 under load). Cancelling again ends it.
        """
        for t in self._adapter_tasks:
            if not t.done():
                t.cancel()

    def device_states(self) -> dict[str, str]:
        return {a.device_id: a.state() for a in self.adapters}

    async def run(self) -> None:
        async with self.spool:
            await self.spool.enforce_bounds()
            self.write_status_file()
            self.log.info(
                "gateway %s for station %s/%s: %d device(s), spool %s (%d record(s) waiting)",
                self.config.gateway_id,
                self.config.district,
                self.config.station,
                len(self.adapters),
                self.config.spool.path,
                self.spool.stats().backlog,
            )
            try:
                async with asyncio.TaskGroup() as tg:
                    for adapter in self.adapters:
                        self._adapter_tasks.append(
                            tg.create_task(
                                self._supervise(adapter), name=f"adapter-{adapter.device_id}"
                            )
                        )
                    tg.create_task(self.publisher.run(), name="publisher")
                    tg.create_task(self._housekeeping(), name="housekeeping")
            finally:
                self.write_status_file()  # the last word: stopped, disconnected

    async def _supervise(self, adapter: Adapter) -> None:
        """An adapter bug must not take the gateway down: log, wait, start it again.

        The waits follow the device's ``retry`` policy and are never reset: an adapter that
        keeps crashing is restarted at most every ``retry.cap`` seconds.
        """
        backoff = Backoff(adapter.config.retry)
        while True:
            try:
                await adapter.run(self.spool)
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = backoff.next_delay()
                self.log.exception(
                    "adapter %s crashed; restarting in %.1fs", adapter.device_id, delay
                )
                await backoff.sleep(delay)

    async def _housekeeping(self) -> None:
        """Bounds every minute; status.json every few seconds and at once on a change."""
        interval = self.config.publish.status_file_interval
        next_bounds = 0.0
        events = (self.publisher.changed, self.spool.dropped_event)
        while True:
            if time.monotonic() >= next_bounds:
                await self.spool.enforce_bounds()
                next_bounds = time.monotonic() + BOUNDS_INTERVAL
            for event in events:
                event.clear()
            self.write_status_file()
            waiters = [asyncio.ensure_future(e.wait()) for e in events]
            try:
                await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()

    def write_status_file(self) -> None:
        state = self.publisher.state
        record = self.publisher.status_record("online" if state.connected else "offline")
        data = record.model_dump(exclude={"rid"})
        data |= {
            "written_at": record.ts,
            "pid": os.getpid(),
            "status_file_interval": self.config.publish.status_file_interval,
            "connected": state.connected,
            "published_records": state.published_records,
            "confirmed_records": state.confirmed_records,
            "unconfirmed_envelopes": state.unconfirmed,
            "resent_envelopes": state.resent_batches,
            "cloud_refused": state.cloud_refused,
            "oversized": state.oversized,
            "last_confirmed": state.last_confirmed_ms,
            "held_topics": sorted(state.held_topics),
        }
        text = json.dumps(data, indent=2).encode()
        # Padded to whole 4 KiB blocks, so that on a full disk it can still be rewritten in
        # place (the same blocks) when the atomic write of a new file cannot get any.
        text += b" " * (-len(text) % 4096)
        tmp = self.status_file.with_suffix(".tmp")
        try:
            tmp.write_bytes(text)
            tmp.replace(self.status_file)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            try:
                with self.status_file.open("r+b") as f:
                    if len(text) > f.seek(0, 2):
                        raise
                    f.seek(0)
                    f.write(text)
                    f.truncate()
            except OSError:
                if time.monotonic() - self._status_warned > 60:  # say so once a minute
                    self._status_warned = time.monotonic()
                    self.log.warning("cannot write %s: %s", self.status_file, exc.strerror)


STOP_GRACE = 20.0


def _stuck(log: logging.Logger) -> None:
    for t in asyncio.all_tasks():
        buf = io.StringIO()
        t.print_stack(file=buf, limit=12)
        log.error("still running %ss after the stop signal: %r\n%s", STOP_GRACE, t, buf.getvalue())
    log.error("gateway did not stop within %ss; exiting", STOP_GRACE)
    logging.shutdown()
    os._exit(3)


def read_status_file(path: Path) -> dict[str, object]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


async def run_gateway(config: GatewayConfig) -> None:
    """Run until SIGINT/SIGTERM, then publish the offline status and stop cleanly."""
    gateway = Gateway(config)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop() -> None:
        task.cancel()
        loop.call_later(0.5, recancel)
        # A clean stop takes a few seconds at most (the offline status, the spool's last
        # commit). Should it ever hang, say where, then leave: a stopped box must stop.
        loop.call_later(STOP_GRACE, _stuck, gateway.log)

    def recancel() -> None:
        gateway.cancel_stragglers()
        loop.call_later(0.5, recancel)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    try:
        await gateway.run()
    except asyncio.CancelledError:
        gateway.log.info("gateway %s stopped", config.gateway_id)
