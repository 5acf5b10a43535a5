"""Spool -> signed MQTT 5 batches, QoS 1; records leave the spool only when the cloud says so.

A PUBACK only means the broker took a message; a broker that drops it later (a full queue for
ingest, a restart) would lose it. So every envelope is sealed in the spool before it is
published (sequence number, signed head and trailer), and its records stay until ingest
confirms the envelope on this gateway's topic ``ack/v1/{district}/{station}/{gateway}``.
Unconfirmed envelopes are resent byte for byte - same sequence number, same signature - after
a reconnect, on the cloud's request, or after a timeout (``window.Window`` has the rules);
ingest recognises the sequence number and confirms again without storing twice. At most
``publish.max_unconfirmed`` envelopes wait for confirmation at once, which also bounds what
one gateway can have queued at the broker.

One connection at a time; when it drops, the gateway reconnects by the ``publish.retry`` policy
(``fuelwatch.core.retry``). A PUBACK with a reason code >= 0x80 (135 Not authorized when the ACL
refuses the topic, 149 Packet too large above the broker's size limit) is an error: logged at ERROR,
counted in the status, and the topic is held back for a while so other topics keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from fuelwatch.core import __version__
from fuelwatch.core.mqtt import (
    ConnectionLostError,
    Message,
    MqttClient,
    MqttConnectError,
    MqttError,
    PublishRejectedError,
    Will,
)
from fuelwatch.core.records import GatewayStatusRecord, RecordKind
from fuelwatch.core.retry import Backoff
from fuelwatch.core.wire import (
    Ack,
    Signer,
    Topic,
    WireError,
    ack_topic,
    encode,
    parse_ack,
    seal_records,
)
from fuelwatch.gateway.settings import GatewayConfig
from fuelwatch.gateway.spool import Spool, SpoolRow
from fuelwatch.gateway.window import Outstanding, Window

__all__ = ["Publisher", "PublisherState", "group_batches"]

LOGGER = logging.getLogger(__name__)
#: PUBACK reason 16: the broker took the message but no subscription matched it, so nobody
#: will ever receive it. Ingest keeps persistent sessions, so this means ingest has never
#: subscribed yet: keep the records and try again shortly.
NO_MATCHING_SUBSCRIBERS = 16
#: PUBACK reason 149: the payload is over the broker's ``message_size_limit``.
PACKET_TOO_LARGE = 149


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class PublisherState:
    connected: bool = False
    published_records: int = 0  # first sends the broker took (PUBACK)
    published_batches: int = 0
    confirmed_records: int = 0  # records the cloud confirmed (and the spool let go)
    confirmed_batches: int = 0
    resent_batches: int = 0
    cloud_refused: int = 0  # records the cloud refused for good (kept in its `rejected`)
    oversized: int = 0  # publishes the broker refused as too large
    unconfirmed: int = 0  # envelopes waiting for the cloud
    publish_errors: int = 0
    connect_failures: int = 0
    last_error: str = ""
    last_confirmed_ms: int | None = None
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
        self.ack_topic = ack_topic(config.district, config.station, config.gateway_id)
        pub = config.publish
        self._window = Window(timeout=pub.confirm_timeout, idle=pub.idle_resend)
        self._window_loaded = False
        self._acks: list[Ack] = []
        self._wake = asyncio.Event()
        #: set on every change a status reader should see at once (connect, disconnect)
        self.changed = asyncio.Event()

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
            alarms=stats.alarm[:128],
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
        backoff = Backoff(self._cfg.publish.retry)
        if not self._window_loaded:
            for env in await self._spool.outstanding():
                self._window.add(env.seq, env.topic, env.records)
            self._window_loaded = True
            self.state.unconfirmed = len(self._window)
        while True:
            client = await self._connect()
            if client is None:
                self.state.connect_failures += 1
                await backoff.wait()
                continue
            backoff.reset()
            self._set_connected(connected=True)
            try:
                await self._pump(client)
            except ConnectionLostError as exc:
                self._log.warning("connection to broker lost: %s", exc)
            except asyncio.CancelledError:
                # A clean stop: the retained status says so before the connection closes
                # (the Will is only for an unclean one).
                await self._goodbye(client)
                raise
            finally:
                self._set_connected(connected=False)
                await client.disconnect()
            # A short wait even after a good connection: gateways that lost the same broker do
            # not all come back in the same instant.
            await backoff.wait()

    def _set_connected(self, *, connected: bool) -> None:
        if self.state.connected != connected:
            self.state.connected = connected
            self.changed.set()

    async def _connect(self) -> MqttClient | None:
        mqtt = self._cfg.mqtt
        will = Will(self.status_topic, await self._status_payload("offline"), qos=1, retain=True)
        client = MqttClient(
            host=mqtt.host,
            port=mqtt.port,
            client_id=self._cfg.gateway_id,
            username=mqtt.username or self._cfg.station,
            password=mqtt.resolved_password(self._cfg.box_key()),
            tls=mqtt.tls.settings() if mqtt.tls else None,
            keepalive=mqtt.keepalive,
            will=will,
            max_inflight=max(self._cfg.publish.max_inflight, 20),
            on_message=self._on_message,
            logger=self._log,
        )
        try:
            await client.connect()
            # Confirmations first: the birth's own confirmation tells us the cloud is there.
            await client.subscribe([(self.ack_topic, 1)])
        except (MqttConnectError, MqttError, TimeoutError) as exc:
            code = exc.reason_code if isinstance(exc, MqttConnectError) else 0
            self._set_error(
                f"connect failed: {exc}",
                level=logging.WARNING if code is None else logging.ERROR,
            )
            await client.disconnect()
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
            await client.disconnect()
            return None
        return client

    async def _goodbye(self, client: MqttClient) -> None:
        if not client.is_connected:
            return
        with contextlib.suppress(Exception):
            payload = await self._status_payload("offline")
            await asyncio.wait_for(
                client.publish(self.status_topic, payload, qos=1, retain=True), 2.0
            )
            self._log.info("published offline status")

    def _set_error(self, message: str, *, level: int = logging.ERROR) -> None:
        self.state.last_error = message
        self._log.log(level, "%s", message)

    # -- confirmations -------------------------------------------------------------------------

    def _on_message(self, msg: Message) -> None:
        if msg.topic != self.ack_topic:
            return
        try:
            ack = parse_ack(msg.payload)
        except WireError as exc:
            self._log.warning("ignoring a malformed confirmation on %s: %s", msg.topic, exc)
            return
        if ack.gw != self._cfg.gateway_id:
            self._log.warning("ignoring a confirmation for %s on %s", ack.gw, msg.topic)
            return
        self._acks.append(ack)
        self._wake.set()

    async def _take_acks(self) -> None:
        acks, self._acks = self._acks, []
        now = time.monotonic()
        confirmed: set[int] = set()
        for ack in acks:
            confirmed |= ack.confirms()
            for refusal in ack.refused:
                item = self._window.items.get(refusal.seq)
                n = len(refusal.rids) or (item.records if item else 0)
                self.state.cloud_refused += n
                self._set_error(
                    f"the cloud refused {n} record(s) of envelope {refusal.seq} for good: "
                    f"{refusal.reason}"
                    + (f" (rids {list(refusal.rids)[:20]})" if refusal.rids else "")
                    + "; the evidence is in its `rejected` measurement"
                )
            if ack.resend:
                asked = self._window.request(ack.resend)
                if asked:
                    self._log.info("the cloud asks for %d envelope(s) again", asked)
        done = self._window.confirm(confirmed, now) if acks else []
        if done:
            removed = await self._spool.confirm_envelopes([d.seq for d in done])
            self.state.confirmed_records += removed
            self.state.confirmed_batches += len(done)
            self.state.last_confirmed_ms = _now_ms()
        self.state.unconfirmed = len(self._window)

    # -- pumping -------------------------------------------------------------------------------

    async def _pump(self, client: MqttClient) -> None:
        pub = self._cfg.publish
        next_status = time.monotonic() + pub.status_interval
        await self._resend(client, self._window.all_due(time.monotonic()))
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
            self._wake.clear()
            self._spool.changed.clear()
            await self._take_acks()
            self._window.forget(self._spool.take_broken())
            await self._resend(client, self._window.due(now))
            room = pub.max_unconfirmed - len(self._window)
            if room > 0:
                rows = await self._spool.read(pub.max_batch_records * room, skip_topics=list(held))
                if rows:
                    await self._publish_new(client, rows, room)
                    continue
            wake = min([next_status, *held.values()]) - time.monotonic()
            wake = min(wake, self._window.next_check(now)) if len(self._window) else wake
            waiters: list[asyncio.Future[object]] = [
                asyncio.ensure_future(self._wake.wait()),
                asyncio.ensure_future(client.wait_closed()),
            ]
            if room > 0:  # a full window waits for confirmations, not for new records
                waiters.append(asyncio.ensure_future(self._spool.changed.wait()))
            try:
                await asyncio.wait(
                    waiters, timeout=max(0.0, wake), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for w in waiters:
                    w.cancel()
            if not client.is_connected:
                raise ConnectionLostError(client.close_reason)

    async def _publish_new(self, client: MqttClient, rows: list[SpoolRow], room: int) -> None:
        pub = self._cfg.publish
        batches = group_batches(rows, pub.max_batch_records, pub.max_batch_bytes)[:room]
        sealed = []
        payloads = []
        for topic, batch in batches:
            seq = await self._spool.next_seq()
            env = seal_records(
                topic=topic,
                signer=self._signer,
                gateway_id=self._cfg.gateway_id,
                seq=seq,
                boot=self.boot,
                sent=_now_ms(),
                records=[(row.rid, row.body) for row in batch],
            )
            sealed.append((seq, topic, env.prefix, env.trailer, [row.rid for row in batch]))
            payloads.append((seq, topic, len(batch), env.payload))
        # Sealed on disk before it leaves: a resend after a crash is the same envelope.
        await self._spool.seal(sealed)
        for seq, topic, n, payload in payloads:
            item = self._window.add(seq, topic, n)
            self._send(client, item, payload, first=True)
        self.state.unconfirmed = len(self._window)
        await asyncio.sleep(0)  # let PUBACKs and confirmations in before the next round

    async def _resend(self, client: MqttClient, items: list[Outstanding]) -> None:
        for item in items:
            found = await self._spool.payload(item.seq)
            if found is None:
                self._window.forget({item.seq})
                continue
            self.state.resent_batches += 1
            self._send(client, item, found[1], first=False)

    def _send(self, client: MqttClient, item: Outstanding, payload: bytes, *, first: bool) -> None:
        self._window.sent(item, time.monotonic())
        fut = client.publish_nowait(item.topic, payload, qos=1)
        fut.add_done_callback(lambda f: self._settled(item, f, first=first))

    def _settled(self, item: Outstanding, fut: asyncio.Future[int], *, first: bool) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        pub = self._cfg.publish
        if isinstance(exc, PublishRejectedError):
            self.state.publish_errors += 1
            until = time.monotonic() + pub.hold_on_reject
            self.state.held_topics[item.topic] = until
            self._window.hold(item.seq, until)
            if exc.reason_code == PACKET_TOO_LARGE:
                self.state.oversized += 1
            self._set_error(
                f"broker refused envelope {item.seq} ({item.records} record(s)) on "
                f"{item.topic}: reason {exc.reason_code} {exc.reason}; kept in the spool, "
                f"retrying in {pub.hold_on_reject:g}s"
            )
            return
        if exc is not None:
            return  # connection lost: the pump sees it and everything is resent after
        if fut.result() == NO_MATCHING_SUBSCRIBERS:
            until = time.monotonic() + pub.hold_no_subscribers
            self.state.held_topics[item.topic] = until
            self._window.hold(item.seq, until)
            self._set_error(
                f"no subscriber for {item.topic} (is ingest running?); {item.records} "
                f"record(s) kept in the spool, retrying in {pub.hold_no_subscribers:g}s",
                level=logging.WARNING,
            )
            return
        if first:
            self.state.published_records += item.records
            self.state.published_batches += 1
