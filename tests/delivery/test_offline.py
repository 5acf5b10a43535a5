"""A clean stop says so: SIGTERM publishes the retained ``offline`` status (issue 12: the
client was cleared before the goodbye ran, so the retained status stayed ``online``)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import orjson

from fuelwatch.core.mqtt import Message, MqttClient
from tests.support.env import StackEnv, eventually
from tests.support.services import CLOUD_PASSWORD, CLOUD_USER


async def test_sigterm_publishes_offline_and_status_json_follows_the_live_state(
    env: StackEnv,
) -> None:
    config = env.provision("OF01")
    cfg_file = config.signing_key.parent / "gateway.yaml"
    status_topic = f"fuel/v1/{env.district}/OF01/{config.gateway_id}/status"
    states: list[str] = []

    def on_message(msg: Message) -> None:
        body = msg.payload.rsplit(b"\n", 1)[0]
        states.append(orjson.loads(body)["records"][0]["state"])

    watcher = MqttClient(
        host="127.0.0.1",
        port=env.broker.port,
        client_id=f"watch-{env.district}",
        username=CLOUD_USER,
        password=CLOUD_PASSWORD,
        on_message=on_message,
    )
    await watcher.connect()
    await watcher.subscribe([(status_topic, 1)])
    status_file = config.spool.path.with_name("status.json")
    argv = [sys.executable, "-m", "fuelwatch.cli", "gateway", "run", "-c", str(cfg_file)]
    proc = subprocess.Popen(argv)
    try:
        await eventually(lambda: "online" in states, what="birth")
        # status.json shows the live connection within seconds, not at the next minute
        await eventually(
            lambda: status_file.exists() and json.loads(status_file.read_text())["connected"],
            timeout=10,
            what="connected in status.json",
        )
        shown = subprocess.run(
            [sys.executable, "-m", "fuelwatch.cli", "gateway", "status", "-c", str(cfg_file)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert '"state": "online"' in shown
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        await eventually(lambda: states[-1] == "offline", timeout=10, what="offline")
    finally:
        if proc.poll() is None:
            proc.kill()
        await watcher.disconnect()
    # the retained status a newcomer gets is offline, too
    late: list[str] = []
    reader = MqttClient(
        host="127.0.0.1",
        port=env.broker.port,
        client_id=f"late-{env.district}",
        username=CLOUD_USER,
        password=CLOUD_PASSWORD,
        on_message=lambda m: late.append(
            orjson.loads(m.payload.rsplit(b"\n", 1)[0])["records"][0]["state"]
        ),
    )
    await reader.connect()
    await reader.subscribe([(status_topic, 1)])
    await eventually(lambda: late, timeout=10, what="retained status")
    await reader.disconnect()
    assert late == ["offline"]
    assert json.loads(status_file.read_text())["connected"] is False
    stale = subprocess.run(
        [sys.executable, "-m", "fuelwatch.cli", "gateway", "status", "-c", str(cfg_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"state": "offline"' in stale
