"""A station client written from docs/protocol.md alone, against the real stack.

Deliberately imports nothing from ``fuelwatch.core.wire`` (nor the gateway): it builds topics,
envelopes, key ids, signatures and confirmations the way the document says, with paho and
cryptography only. The stack around it (provisioning, ingest) is the project's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid

import paho.mqtt.client as paho
from cryptography.hazmat.primitives import serialization
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.env import RECENT_T0, StackEnv, eventually

DOMAIN = b"fuelwatch/v1\x00"


class DocClient:
    def __init__(
        self, env: StackEnv, station: str, gateway: str, pem: bytes, password: str
    ) -> None:
        self.district, self.station, self.gateway = env.district, station, gateway
        self.key = serialization.load_pem_private_key(pem, password=None)
        spki = self.key.public_key().public_bytes(  # type: ignore[union-attr]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = hashlib.sha256(spki).hexdigest()[:16]
        self.acks: list[dict[str, object]] = []
        self.pubacks: dict[int, int] = {}
        self._lock = threading.Lock()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=gateway, protocol=paho.MQTTv5
        )
        self.client.username_pw_set(station, password)
        self.client.on_message = lambda c, u, m: self.acks.append(json.loads(m.payload))
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", env.broker.port)
        self.client.loop_start()
        self.client.subscribe(f"ack/v1/{self.district}/{station}/{gateway}", qos=1)
        time.sleep(0.3)

    def _on_publish(self, _c: object, _u: object, mid: int, rc: object, _p: object) -> None:
        with self._lock:
            self.pubacks[mid] = rc.value  # type: ignore[attr-defined]

    def topic(self, device: str, kind: str) -> str:
        return f"fuel/v1/{self.district}/{self.station}/{device}/{kind}"

    def envelope(self, topic: str, seq: int, records: list[dict[str, object]]) -> bytes:
        # any JSON layout will do: the signature covers the exact bytes, not a canonical form
        body = json.dumps(
            {
                "records": records,
                "kid": self.kid,
                "sent": int(time.time() * 1000),
                "boot": 1,
                "seq": seq,
                "gw": self.gateway,
                "v": 1,
            },
            indent=None,
            separators=(", ", ": "),
        ).encode()
        sig = self.key.sign(DOMAIN + topic.encode() + b"\x00" + body)  # type: ignore[union-attr, call-arg]
        trailer = json.dumps({"alg": "ed25519", "sig": base64.b64encode(sig).decode()}).encode()
        return body + b"\n" + trailer

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        return self.pubacks.get(info.mid, -1)

    def confirmed(self) -> set[int]:
        out: set[int] = set()
        for ack in self.acks:
            for lo, hi in ack["confirmed"]:  # type: ignore[attr-defined]
                out |= set(range(lo, hi + 1))
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def test_a_client_written_from_the_document_is_stored_confirmed_and_deduplicated(
    env: StackEnv,
) -> None:
    config = env.provision("DC01", gateway=f"gw-dc-{uuid.uuid4().hex[:4]}")
    doc = DocClient(
        env,
        "DC01",
        config.gateway_id,
        config.signing_key.read_bytes(),
        config.mqtt.resolved_password() or "",
    )
    inv = doc.topic("atg1", "inventory")
    sales = doc.topic("disp1", "transaction")
    reading = {
        "rid": 1,
        "ts": RECENT_T0,
        "tank": 1,
        "product": "92",
        "volume": 1500,
        "height": 812.5,
    }
    sale = {
        "rid": 2,
        "ts": RECENT_T0 + 60_000,
        "nozzle": 3,
        "product": "95",
        "order_id": "A-1",
        "unit_price": 8.03,
        "volume": 40.0,
        "amount": 321.2,
        "start": RECENT_T0,
        "end": RECENT_T0 + 60_000,
    }
    try:
        async with env.ingest() as ingest:
            first = doc.envelope(inv, 10, [reading])
            assert doc.publish(inv, first) in (0, 16)
            # a trailing newline after the trailer is fine
            assert doc.publish(sales, doc.envelope(sales, 11, [sale]) + b"\n") == 0
            # a lower number never used before is accepted
            low = {**reading, "rid": 3, "ts": RECENT_T0 + 1000}
            assert doc.publish(inv, doc.envelope(inv, 5, [low])) == 0
            await eventually(lambda: doc.confirmed() >= {5, 10, 11}, what="confirmations")
            # resending the same bytes (no confirmation seen, say): confirmed again, stored once
            doc.acks.clear()
            assert doc.publish(inv, first) == 0
            await eventually(lambda: 10 in doc.confirmed(), what="confirmed again")
            assert ingest.stats.duplicates == 1
            # an extra attribute is refused for good: confirmed, with the refusal named
            extra = {**reading, "rid": 4, "colour": "red"}
            assert doc.publish(inv, doc.envelope(inv, 12, [extra])) == 0
            await eventually(lambda: 12 in doc.confirmed(), what="refusal confirmed")
            refused = [r for a in doc.acks for r in a["refused"]]  # type: ignore[attr-defined]
            assert refused == [{"seq": 12, "reason": "schema", "rids": []}]
    finally:
        doc.close()
    assert sorted(int(r["rid"]) for r in env.query('SELECT "rid" FROM "tank_inventory"')) == [1, 3]  # type: ignore[call-overload]
    row = env.query('SELECT * FROM "dispenser_transaction"')[0]
    assert (row["gateway"], row["order_id"], row["volume"]) == (config.gateway_id, "A-1", 40.0)
