"""A station flooding the broker with its own valid credentials (run as a subprocess).

    python -m tests.delivery.flooder PORT USER PASSWORD TOPIC REPLAY_FILE SECONDS

Cycles through ~1 MB of random bytes, a replay of a valid envelope, and a valid-looking
envelope with a forged signature, QoS 0 and QoS 1 alternately, as fast as the broker takes
them. Prints what it sent as one JSON line at the end.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import uuid

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode


def main() -> None:
    port, user, password, topic, replay_file, seconds = sys.argv[1:7]
    replay = open(replay_file, "rb").read()  # noqa: PTH123, SIM115
    junk = [os.urandom(1_000_000) for _ in range(4)]
    body = replay.rsplit(b"\n", 1)[0]
    forged = (
        body
        + b"\n"
        + json.dumps({"alg": "ed25519", "sig": base64.b64encode(os.urandom(64)).decode()}).encode()
    )
    payloads = [junk[0], replay, forged, junk[1], junk[2], junk[3]]
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"flood-{uuid.uuid4().hex[:6]}", protocol=paho.MQTTv5
    )
    client.username_pw_set(user, password)
    client.max_inflight_messages_set(20)
    client.max_queued_messages_set(200)
    client.connect("127.0.0.1", int(port))
    client.loop_start()
    sent = {"messages": 0, "bytes": 0, "refused_locally": 0, "reconnects": 0}
    deadline = time.monotonic() + float(seconds)
    i = 0
    while time.monotonic() < deadline:
        payload = payloads[i % len(payloads)]
        info = client.publish(topic, payload, qos=i % 2)
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            sent["messages"] += 1
            sent["bytes"] += len(payload)
            i += 1
        elif info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            sent["reconnects"] += 1
            time.sleep(0.2)
            client.reconnect()
        else:
            sent["refused_locally"] += 1
            time.sleep(0.001)
    client.loop_stop()
    client.disconnect()
    print(json.dumps(sent), flush=True)


if __name__ == "__main__":
    main()
