"""Real Mosquitto and InfluxDB processes for tests, on free ports in temp folders.

They run the project's own configuration (rendered by ``fuelwatch.stack``), the same files
the demo uses.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from fuelwatch.cloud.provisioning.passwords import PasswordFile
from fuelwatch.stack.broker import BROKER_DIR, mosquitto_process, render_broker
from fuelwatch.stack.influxdb import influxd_process
from fuelwatch.stack.process import ManagedProcess, free_port

CLOUD_USER = "fuelwatch-cloud"
CLOUD_PASSWORD = "Qm7x-Tr2v9KpLw4ZcY8nB3fH"  # fit for production mode (compose process tests)


def can_connect(port: int, user: str, password: str, timeout: float = 2.0) -> int:
    """Connect once with MQTT 5; return the CONNACK reason code (or -1 on no answer)."""
    result: list[int] = []
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5
    )
    client.username_pw_set(user, password)
    client.on_connect = lambda c, u, f, rc, p: result.append(rc.value)
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except OSError:
        return -1
    deadline = time.monotonic() + timeout
    while not result and time.monotonic() < deadline:
        client.loop(0.05)
    client.disconnect()
    return result[0] if result else -1


class Broker:
    def __init__(self, root: Path, *, tls: bool = False) -> None:
        self.root = root
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.tls_password_port = free_port() if tls else None
        self.certs_dir = root / "certs" if tls else None
        if tls:
            subprocess.run(
                [str(BROKER_DIR / "make-certs.sh"), str(self.certs_dir)],
                check=True,
                capture_output=True,
            )
        self.files = render_broker(
            root,
            port=self.port,
            cloud_user=CLOUD_USER,
            cloud_password=CLOUD_PASSWORD,
            tls_port=self.tls_port,
            certs_dir=self.certs_dir,
            tls_password_port=self.tls_password_port,
        )
        self.process: ManagedProcess = mosquitto_process(self.files)

    def start(self) -> Broker:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()

    def add_account(self, user: str, password: str) -> None:
        """Add a password account (a station, an alert reader), reload, wait until it works."""
        passwd = PasswordFile(self.files.password_file)
        passwd.set(user, password)
        passwd.save()
        self.reload()
        deadline = time.monotonic() + 10
        while can_connect(self.port, user, password) != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"broker did not accept {user} after reload")
            time.sleep(0.1)

    def reload(self) -> None:
        import signal  # noqa: PLC0415

        self.process.signal(signal.SIGHUP)

    def make_client_cert(self, cn: str) -> tuple[Path, Path]:
        assert self.certs_dir is not None
        subprocess.run(
            [str(BROKER_DIR / "make-certs.sh"), str(self.certs_dir), cn],
            check=True,
            capture_output=True,
        )
        return self.certs_dir / f"{cn}.crt", self.certs_dir / f"{cn}.key"


class Influx:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.http_port = free_port()
        self.process = influxd_process(
            root, http_port=self.http_port, rpc_port=free_port(), cq_interval="1s"
        )
        self.url = f"http://127.0.0.1:{self.http_port}"

    def start(self) -> Influx:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    def query(self, db: str, q: str) -> list[dict[str, object]]:
        """Rows of the first series set, with tags merged in (epoch ms)."""
        resp = httpx.post(f"{self.url}/query", data={"db": db, "q": q, "epoch": "ms"}, timeout=30)
        resp.raise_for_status()
        body = resp.json()
        result = body["results"][0]
        if "error" in result:
            raise RuntimeError(result["error"])
        rows: list[dict[str, object]] = []
        for series in result.get("series", []):
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row.update(series.get("tags") or {})
                rows.append(row)
        return rows

    def count(self, db: str, measurement: str, where: str = "") -> int:
        rows = self.query(db, f'SELECT count("rid") FROM "{measurement}" {where}')
        return int(rows[0]["count"]) if rows else 0  # type: ignore[call-overload]
