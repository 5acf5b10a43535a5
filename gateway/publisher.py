"""Spool -> signed MQTT 5 batches, QoS 1, in order, deleted only after a successful PUBACK.

One connection at a time; when it drops, the records that were in flight are still in the
spool and go out again, in new batches with new sequence numbers, after reconnecting with a
jittered, capped backoff. The cloud stores a record under an identity derived from its record
id, so a record sent twice is stored once.

A PUBACK with a reason code >= 0x80 (135 Not authorized when the ACL refuses the topic) is an
error: logged at ERROR, counted in the status, and the topic is held back for a while so the
other topics keep flowing; its records stay in the spool until the broker takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from fuelwatch import __version__
from fuelwatch.mqtt import (
    ConnectionLostError,
    MqttClient,
    MqttConnectError,
    PublishRejectedError,
    Will,
)
from fuelwatch.records import GatewayStatusRecord, RecordKind
from fuelwatch.wire import Signer, Topic, encode, encode_records
from gateway.settings import GatewayConfig
from gateway.spool import Spool, SpoolRow

__all__ = ["Publisher", "PublisherState"]

LOGGER = logging.getLogger(__name__)
#: PUBACK reason 16: the broker took the message but no subscription matched it, so nobody
#: will ever receive it. Ingest keeps persistent sessions, so this means ingest has never
#: subscribed yet: keep the records and try again shortly.
NO_MATCHING_SUBSCRIBERS = 16


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class PublisherState:
    connected: bool = False
    published_records: int = 0
    published_batches: int = 0
    publish_errors: int = 0
    connect_failures: int = 0
    last_error: str = ""
    held_topics: dict[str, float] = field(default_factory=dict)


def group_batches(
    rows: list[SpoolRow], max_records: int, max_bytes: int
) -> list[tuple[str, list[SpoolRow]]]:
    """Split rows into per-topic batches, keeping each topic's order."""
    by_topic: dict[str, list[list[SpoolRow]]] = {}
    sizes: dict[str, int] = {}
    for row in rows:
        chunks = by_topic.setdefault(row.topic, [[]])
        size = sizes.get(row.topic, 0) + len(row.body) + 16
        if len(chunks[-1]) >= max_records or (chunks[-1] and size > max_bytes):
            chunks.append([])
            size = len(row.body) + 16
        chunks[-1].append(row)
        sizes[row.topic] = size
    return [(topic, chunk) for topic, chunks in by_topic.items() for chunk in chunks]


class Publisher:
    def __init__(
        self,
        *,
        config: GatewayConfig,
        spool: Spool,
        signer: Signer,
        device_states: Callable[[], dict[str, str]] = dict,
        logger: logging.Logger | None = None,
    ) -> None:
        self._cfg = config
        self._spool = spool
        self._signer = signer
        self._device_states = device_states
        self._log = logger or LOGGER
        self.boot = _now_ms()
        self.state = PublisherState()
        self.status_topic = str(
            Topic(config.district, config.station, config.gateway_id, RecordKind.STATUS)
        )
        self._client: MqttClient | None = None

    # -- status --------------------------------------------------------------------------------

    def status_record(self, state: Literal["online", "offline"]) -> GatewayStatusRecord:
        stats = self._spool.stats()
        now = _now_ms()
        devices = ",".join(f"{k}={v}" for k, v in sorted(self._device_states().items()))
        return GatewayStatusRecord(
            ts=now,
            gts=now,
            state=state,
            boot=self.boot,
            version=__version__,
            spool_backlog=stats.backlog,
            spool_oldest=stats.oldest,
            spool_dropped=stats.dropped,
            publish_errors=self.state.publish_errors,
            last_error=self.state.last_error[:1024],
            devices=devices[:1024],
        )

    async def _status_payload(self, state: Literal["online", "offline"]) -> bytes:
        return encode(
            topic=self.status_topic,
            signer=self._signer,
            gateway_id=self._cfg.gateway_id,
            seq=await self._spool.next_seq(),
            boot=self.boot,
            sent=_now_ms(),
            records=[self.status_record(state)],
        )

    # -- connection loop -----------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        try:
            while True:
                client = await self._connect()
                if client is None:
                    attempt += 1
                    self.state.connect_failures += 1
                    cap = min(self._cfg.publish.backoff_max, 1.5 ** min(10, attempt))
                    await asyncio.sleep(random.uniform(0.2, cap))
                    continue
                attempt = 0
                self._client = client
                self.state.connected = True
                try:
                    await self._pump(client)
                except ConnectionLostError as exc:
                    self._log.warning("connection to broker lost: %s", exc)
                finally:
                    self.state.connected = False
                    self._client = None
                    await client.disconnect()
                await asyncio.sleep(random.uniform(0.1, 1.0))
        except asyncio.CancelledError:
            await self._goodbye()
            raise

    async def _connect(self) -> MqttClient | None:
        mqtt = self._cfg.mqtt
        will = Will(self.status_topic, await self._status_payload("offline"), qos=1, retain=True)
        client = MqttClient(
            host=mqtt.host,
            port=mqtt.port,
            client_id=self._cfg.gateway_id,
            username=mqtt.username or self._cfg.station,
            password=mqtt.resolved_password(),
            tls=mqtt.tls.settings() if mqtt.tls else None,
            keepalive=mqtt.keepalive,
            will=will,
            max_inflight=max(self._cfg.publish.max_inflight, 20),
            logger=self._log,
        )
        try:
            await client.connect()
        except MqttConnectError as exc:
            self._set_error(
                f"connect failed: {exc}",
                level=logging.WARNING if exc.reason_code is None else logging.ERROR,
            )
            return None
        self._log.info(
            "connected to broker %s:%d as %s",
            mqtt.host,
            mqtt.port,
            mqtt.username or self._cfg.station,
        )
        try:
            await client.publish(
                self.status_topic, await self._status_payload("online"), qos=1, retain=True
            )
        except PublishRejectedError as exc:
            self._set_error(str(exc))
        except ConnectionLostError:
            return None
        return client

    async def _goodbye(self) -> None:
        client = self._client
        if client is None or not client.is_connected:
            return
        with contextlib.suppress(Exception):
            payload = await self._status_payload("offline")
            await asyncio.wait_for(
                client.publish(self.status_topic, payload, qos=1, retain=True), 2.0
            )
        with contextlib.suppress(Exception):
            await client.disconnect()

    def _set_error(self, message: str, *, level: int = logging.ERROR) -> None:
        self.state.last_error = message
        self._log.log(level, "%s", message)

    # -- pumping -------------------------------------------------------------------------------

    async def _pump(self, client: MqttClient) -> None:
        pub = self._cfg.publish
        next_status = time.monotonic() + pub.status_interval
        round_limit = pub.max_batch_records * pub.max_inflight
        while True:
            now = time.monotonic()
            held = self.state.held_topics
            for topic in [t for t, until in held.items() if until <= now]:
                del held[topic]
                self._log.info("retrying held-back topic %s", topic)
            if now >= next_status:
                await client.publish(
                    self.status_topic, await self._status_payload("online"), qos=1, retain=True
                )
                next_status = now + pub.status_interval
            self._spool.changed.clear()
            rows = await self._spool.read(round_limit, skip_topics=list(held))
            if rows:
                await self._publish_round(client, rows)
                continue
            wake = min([next_status, *held.values()]) - time.monotonic()
            waiter = asyncio.ensure_future(self._spool.changed.wait())
            closed = asyncio.ensure_future(client.wait_closed())
            try:
                await asyncio.wait(
                    {waiter, closed}, timeout=max(0.0, wake), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiter.cancel()
                closed.cancel()
            if not client.is_connected:
                raise ConnectionLostError(client.close_reason)

    async def _publish_round(self, client: MqttClient, rows: list[SpoolRow]) -> None:
        pub = self._cfg.publish
        inflight: list[tuple[str, list[SpoolRow], asyncio.Future[int]]] = []
        acked: list[int] = []
        lost: ConnectionLostError | None = None

        async def settle(topic: str, batch: list[SpoolRow], fut: asyncio.Future[int]) -> None:
            nonlocal lost
            try:
                rc = await fut
            except PublishRejectedError as exc:
                self.state.publish_errors += 1
                self.state.held_topics[topic] = time.monotonic() + pub.hold_on_reject
                self._set_error(
                    f"broker refused {len(batch)} record(s) on {topic}: reason {exc.reason_code} "
                    f"{exc.reason}; kept in the spool, retrying in {pub.hold_on_reject:g}s"
                )
                return
            except ConnectionLostError as exc:
                lost = exc
                return
            if rc == NO_MATCHING_SUBSCRIBERS:
                self.state.held_topics[topic] = time.monotonic() + pub.hold_no_subscribers
                self._set_error(
                    f"no subscriber for {topic} (is ingest running?); {len(batch)} record(s) "
                    f"kept in the spool, retrying in {pub.hold_no_subscribers:g}s",
                    level=logging.WARNING,
                )
                return
            acked.extend(row.rid for row in batch)
            self.state.published_records += len(batch)
            self.state.published_batches += 1

        for topic, batch in group_batches(rows, pub.max_batch_records, pub.max_batch_bytes):
            if lost is not None or topic in self.state.held_topics:
                break
            payload = encode_records(
                topic=topic,
                signer=self._signer,
                gateway_id=self._cfg.gateway_id,
                seq=await self._spool.next_seq(),
                boot=self.boot,
                sent=_now_ms(),
                records=[(row.rid, row.body) for row in batch],
            )
            inflight.append((topic, batch, client.publish_nowait(topic, payload, qos=1)))
            if len(inflight) >= pub.max_inflight:
                await settle(*inflight.pop(0))
        for item in inflight:
            await settle(*item)
        await self._spool.confirm(acked)
        if lost is not None:
            raise lost
