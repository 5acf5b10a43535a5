"""What the demo shows of the warnings: each new one as the registry has it (category,
station, subject, message and its link in the management API), and each alert as it arrives
on MQTT (``alerts/v1/#``, read as the cloud service account)."""

from __future__ import annotations

import json
import queue
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from fuelwatch.cloud.common.categories import Category
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker
from fuelwatch.cloud.store.models.warnings import Warning_

__all__ = ["WarningWatch"]

CLOUD_USER = "fuelwatch-cloud"


class WarningWatch:
    def __init__(self, registry_url: str, api_url: str, mqtt_port: int, password: str) -> None:
        self._db = make_engine(registry_url)
        self._sessions = make_sessionmaker(self._db)
        self._api = api_url
        self._last_id = 0
        self._alerts: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="fuelwatch-demo-watch", protocol=mqtt.MQTTv5
        )
        self._client.username_pw_set(CLOUD_USER, password)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._port = mqtt_port

    def start(self) -> None:
        self._client.connect_async("127.0.0.1", self._port)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._db.dispose()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe("alerts/v1/#", qos=1)

    def _on_message(self, _client: mqtt.Client, _data: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            body = {}
        title = body.get("title_en") or body.get("title") or json.dumps(body, ensure_ascii=False)
        self._alerts.put(f"  ✉ alert on MQTT {msg.topic}: {title[:160]}")

    def news(self) -> list[str]:
        """Lines for the warnings opened and the alerts received since the last call."""
        lines = []
        with self._sessions() as session:
            for w in session.scalars(
                select(Warning_).where(Warning_.id > self._last_id).order_by(Warning_.id)
            ):
                self._last_id = w.id
                category = Category(w.category)
                lines.append(
                    f"  ⚠ warning #{w.id} {category.label_zh} {category.label_en} "
                    f"({w.category}) at station {w.station_id}, {w.subject}: {w.message_en}\n"
                    f"    evidence: {self._api}/api/v1/warnings/{w.id}"
                )
        while not self._alerts.empty():
            lines.append(self._alerts.get())
        return lines
