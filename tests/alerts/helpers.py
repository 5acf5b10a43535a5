"""Helpers for the alert tests: warnings to push, a real MQTT subscriber, a real webhook receiver.

The receiver is a stdlib ``ThreadingHTTPServer`` in a thread: it checks each request's signature
with ``fuelwatch.cloud.alerts.verify`` exactly as a third party would, and can be told to fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.alerts import SignatureError, verify
from fuelwatch.cloud.alerts.app import AlertService
from fuelwatch.cloud.alerts.settings import AlertSettings
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.provisioning.alert_readers import set_alert_reader
from fuelwatch.cloud.store.registry import ensure_station
from fuelwatch.cloud.warnings.service import transition, upsert_warning
from fuelwatch.core.mqtt import Message, MqttClient
from tests.support.services import Broker


def fast_settings(**overrides: Any) -> AlertSettings:
    base: dict[str, Any] = {
        "client_id": f"alerts-{uuid.uuid4().hex[:8]}",
        "poll_interval": 0.05,
        "lease_seconds": 3.0,
        "webhook_retry": {"base": 0.2, "cap": 1.0, "max_attempts": 3},
        "webhook_timeout": 2.0,
        "stats_interval": 3600,
    }
    return AlertSettings(_env_file=None, **(base | overrides))  # type: ignore[call-arg]


def make_warnings(
    sessions: sessionmaker[Session], district: str, station: str, n: int, *, close_every: int = 0
) -> int:
    """Open ``n`` warnings at one station (and close every ``close_every``-th); return events."""
    events = 0
    with sessions.begin() as session:
        ensure_station(session, district=district, station=station)
    with sessions.begin() as session:
        for i in range(n):
            w = upsert_warning(
                session,
                rule_id="test_rule",
                category="unregistered_delivery" if i % 2 else "totalizer_tampering",
                severity="high" if i % 3 else "critical",
                station=station,
                subject=f"tank:{i}",
                title_zh=f"{i}号罐私自收油",
                title_en=f"Tank {i} unregistered delivery",
                message_zh="液位上升无对应电子运单",
                message_en="Level rise without a matching e-waybill",
                evidence={"value": 500.0 + i, "driver_phone": "13812345678", "records": [1, 2]},
            ).warning
            events += 1
            if close_every and i % close_every == 0:
                transition(session, w, "close", actor="officer", note="已核实")
                events += 1
    return events


def add_reader(broker: Broker, user: str, password: str, districts: list[str]) -> None:
    """A read-only alert recipient account on the running broker (ACL + password, SIGHUP)."""
    set_alert_reader(broker.files.acl_file, user, districts)
    broker.add_account(user, password)


@dataclass
class Subscriber:
    client: MqttClient
    messages: list[Message] = field(default_factory=list)

    def payloads(self, suffix: str = "") -> list[dict[str, Any]]:
        return [
            json.loads(m.payload)
            for m in self.messages
            if m.topic.endswith(suffix) and not m.topic.endswith("/summary")
        ]


@contextlib.asynccontextmanager
async def subscriber(
    broker: Broker, user: str, password: str, topic: str
) -> AsyncIterator[Subscriber]:
    messages: list[Message] = []
    client = MqttClient(
        host="127.0.0.1",
        port=broker.port,
        client_id=f"sub-{uuid.uuid4().hex[:8]}",
        username=user,
        password=password,
        on_message=messages.append,
    )
    await client.connect()
    try:
        await client.subscribe([(topic, 1)])
        yield Subscriber(client, messages)
    finally:
        await client.disconnect()


@contextlib.asynccontextmanager
async def running(
    settings: CloudSettings, alerts: AlertSettings, engine: Engine
) -> AsyncIterator[AlertService]:
    async with AlertService(settings, alerts, engine=engine) as service:
        task = asyncio.create_task(service.run(), name="test-alerts")
        try:
            await asyncio.wait_for(service.ready.wait(), 20)
            yield service
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 15)  # a stop that hangs fails here, not later


@dataclass
class Received:
    event_id: int
    delivery_id: int
    attempt: int
    body: dict[str, Any]


class Receiver:
    """A webhook endpoint that verifies signatures; ``fail_with`` makes it answer an error."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.fail_with: int | None = None
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self.incomplete = 0  # requests whose body ended early (the connection was cut)
        self.failed = 0
        self.failed_at: list[float] = []  # monotonic times of the failed answers
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request (kill -9): not a delivery
                    with outer._lock:
                        outer.incomplete += 1
                    return
                code = outer.handle(body, dict(self.headers.items()))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        with self._lock:
            if self.fail_with is not None:
                self.failed += 1
                self.failed_at.append(time.monotonic())
                return self.fail_with
            try:
                verify(self.secret, body, headers.get("Fuelwatch-Signature"))
            except SignatureError as exc:
                self.rejected.append(str(exc))
                return 401
            self.received.append(
                Received(
                    int(headers["Fuelwatch-Event-Id"]),
                    int(headers["Fuelwatch-Delivery-Id"]),
                    int(headers["Fuelwatch-Attempt"]),
                    json.loads(body),
                )
            )
            return 204

    def event_ids(self) -> list[int]:
        with self._lock:
            return [r.event_id for r in self.received]

    @contextlib.contextmanager
    def serving(self) -> Iterator[Receiver]:
        self._thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
