"""Publish pre-signed envelopes as fast as the broker takes them (the capacity run's load).

    python bench/replay.py PORT FILE [FILE ...]

Each FILE holds one gateway's envelopes: a JSON header line {"user", "password", "gateway",
"topic", "ack_topic", "first_seq"} then, per envelope, its length as a decimal line and the
payload bytes. Signing was done beforehand, so this process costs the run little: what is
measured is the cloud side (broker -> ingest -> InfluxDB, confirmations back), as in a
deployment where the gateways run at the stations. Like a gateway, it keeps at most 64
envelopes unconfirmed by ingest (the protocol's flow control); QoS 1.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode


def load(path: Path) -> tuple[dict[str, str], list[bytes]]:
    data = path.read_bytes()
    head, _, rest = data.partition(b"\n")
    out: list[bytes] = []
    pos = 0
    while pos < len(rest):
        nl = rest.index(b"\n", pos)
        size = int(rest[pos:nl])
        out.append(rest[nl + 1 : nl + 1 + size])
        pos = nl + 1 + size
    return json.loads(head), out


WINDOW = 64


def publish_all(port: int, path: Path) -> None:
    meta, payloads = load(path)
    first = int(meta["first_seq"])
    confirmed: set[int] = set()
    cond = threading.Condition()

    def on_message(_c: object, _u: object, msg: paho.MQTTMessage) -> None:
        ack = json.loads(msg.payload)
        with cond:
            for lo, hi in ack["confirmed"]:
                confirmed.update(range(lo, hi + 1))
            cond.notify_all()

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=meta["gateway"], protocol=paho.MQTTv5
    )
    client.username_pw_set(meta["user"], meta["password"])
    client.on_message = on_message
    client.max_inflight_messages_set(WINDOW)
    client.connect("127.0.0.1", port)
    client.subscribe(meta["ack_topic"], qos=1)
    client.loop_start()
    time.sleep(0.5)
    for k, payload in enumerate(payloads):
        with cond:
            while k - len(confirmed) >= WINDOW:
                cond.wait(1.0)
        while client.publish(meta["topic"], payload, qos=1).rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            time.sleep(0.01)
    with cond:
        while len(confirmed & set(range(first, first + len(payloads)))) < len(payloads):
            if not cond.wait(30.0):
                break
    client.loop_stop()
    client.disconnect()


def main() -> None:
    port = int(sys.argv[1])
    threads = [threading.Thread(target=publish_all, args=(port, Path(f))) for f in sys.argv[2:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
