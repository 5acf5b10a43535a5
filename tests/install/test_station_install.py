"""The station install: `pip install fuelwatch` into a fresh venv, as a station box gets it.

One wheel is built from this tree (`pip wheel --no-deps`) and installed without extras into a
new venv, its dependencies from the package index pinned by constraints.txt. That venv must have
nothing of the server side, say which extra a cloud command needs, carry the device profiles,
and run `fuelwatch gateway run` against a real Mosquitto: a signed batch arrives. The
provisioning (a server-side job) happens in the test's own venv.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from fuelwatch.cloud.provisioning.service import provision_gateway
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.core import wire
from fuelwatch.core.records import InventoryRecord
from fuelwatch.core.wire import Topic, Verifier
from fuelwatch.stack.process import ManagedProcess
from tests.support.services import CLOUD_PASSWORD, CLOUD_USER, Broker

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
#: the [cloud] extra's packages, as imported; none may be in a station's venv
SERVER_SIDE = (
    "fastapi",
    "sqlalchemy",
    "openpyxl",
    "uvicorn",
    "alembic",
    "argon2",
    "jwt",
    "multipart",
    "prometheus_client",
    "pydantic_settings",
)
# what a build leaves in a tree, and what is not the project
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", ".fuelwatch", "__pycache__", ".*_cache"
)


@dataclass(frozen=True)
class Venv:
    root: Path
    work: Path  # a folder outside the checkout: `python -m` must not find ./fuelwatch

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    @property
    def fuelwatch(self) -> str:
        return str(self.root / "bin" / "fuelwatch")

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, capture_output=True, text=True, cwd=self.work, timeout=60, check=False
        )


def _pip(*argv: str, cwd: Path) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    tmp = tmp_path_factory.mktemp("station-install")
    src = tmp / "src"  # a copy, so a stale build/ in the checkout cannot leak into the wheel
    shutil.copytree(ROOT, src, symlinks=True, ignore=NOT_SOURCE)
    dist = tmp / "dist"
    _pip(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), ".", cwd=src)
    (wheel,) = dist.glob("fuelwatch-*.whl")
    venv = Venv(tmp / "venv", tmp / "work")
    venv.work.mkdir()
    _pip(sys.executable, "-m", "venv", str(venv.root), cwd=tmp)
    _pip(
        venv.python, "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), str(wheel),
        cwd=tmp,
    )  # fmt: skip
    return venv


def test_the_station_install_has_nothing_of_the_server_side(station: Venv) -> None:
    probe = station.run(
        station.python,
        "-c",
        "import importlib.util as u, sys, fuelwatch;"
        f"print(fuelwatch.__file__); print([m for m in {SERVER_SIDE!r} if u.find_spec(m)])",
    )
    where, found = probe.stdout.splitlines()
    assert where.startswith(str(station.root)), "the venv's own fuelwatch, not the checkout"
    assert found == "[]"
    for name in SERVER_SIDE:
        gone = station.run(station.python, "-c", f"import {name}")
        assert gone.returncode == 1
        assert f"No module named '{name}'" in gone.stderr


def test_help_lists_every_command_and_cloud_commands_name_their_extra(station: Venv) -> None:
    help_ = station.run(station.fuelwatch, "--help")
    assert help_.returncode == 0, help_.stderr
    for command in ("gateway", "sim", "cloud", "provision", "demo"):
        assert command in help_.stdout
    for argv in (("cloud", "ingest"), ("cloud", "api"), ("registry", "list"), ("demo",)):
        done = station.run(station.fuelwatch, *argv)
        assert done.returncode == 2, (argv, done.stdout, done.stderr)
        assert "pip install 'fuelwatch[cloud]'" in done.stderr, (argv, done.stderr)
        assert "Traceback" not in done.stderr


def test_device_profiles_ship_in_the_wheel(station: Venv, tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    key = tmp_path / "signing.key"
    key.write_bytes(wire.generate_private_key_pem())
    config.write_text(
        yaml.safe_dump(
            {
                "gateway_id": "gw-P1",
                "district": "d1",
                "station": "P1",
                "signing_key": str(key),
                "devices": [
                    {
                        "type": "modbus",
                        "id": "disp1",
                        "profile": "taxcontrol_dispenser_collector.yaml",
                        "nozzles": 6,
                        "transport": {"kind": "tcp", "host": "127.0.0.1", "port": 1502},
                    }
                ],
            }
        )
    )
    done = station.run(
        station.python,
        "-c",
        "import sys; from pathlib import Path;"
        "from fuelwatch.gateway.settings import load_gateway_config;"
        "print(load_gateway_config(Path(sys.argv[1])).devices[0].profile_dir)",
        str(config),
    )
    assert done.returncode == 0, done.stderr
    profiles = Path(done.stdout.strip())
    assert profiles.is_relative_to(station.root)
    assert (profiles / "taxcontrol_dispenser_collector.yaml").is_file()


@pytest.fixture
def subscriber(broker: Broker) -> Iterator[tuple[paho.Client, list[paho.MQTTMessage]]]:
    received: list[paho.MQTTMessage] = []
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5
    )
    client.username_pw_set(CLOUD_USER, CLOUD_PASSWORD)
    client.on_message = lambda _c, _u, msg: received.append(msg)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    yield client, received
    client.loop_stop()
    client.disconnect()


def test_the_gateway_runs_from_the_station_install_and_publishes(
    station: Venv,
    broker: Broker,
    subscriber: tuple[paho.Client, list[paho.MQTTMessage]],
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    upgrade(engine)
    district, name = f"d{uuid.uuid4().hex[:8]}", "SI0001"
    bundle = provision_gateway(
        make_sessionmaker(engine),
        district=district,
        station=name,
        gateway=f"gw-{name}",
        out_dir=tmp_path / "bundle",
        password_file=None,
        mqtt_port=broker.port,
        devices=[{"type": "simulated_tank_gauge", "id": "atg1", "tanks": 2, "poll_interval": 1}],
    )
    engine.dispose()
    broker.add_account(name, bundle.mqtt_password)
    client, received = subscriber
    client.subscribe(f"fuel/v1/{district}/{name}/atg1/inventory", qos=1)
    gateway = ManagedProcess(
        "gateway",
        [station.fuelwatch, "gateway", "run", "-c", str(bundle.config_file)],
        log_file=tmp_path / "gateway.log",
        ready=lambda: True,
        cwd=station.work,
    )
    gateway.start()
    try:
        deadline = time.monotonic() + 60
        while not received and gateway.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert received, f"no batch from the gateway; its log:\n{gateway.tail()}"
        assert gateway.pid is not None
        mapped = Path(f"/proc/{gateway.pid}/maps").read_text()
    finally:
        gateway.stop()
    msg = received[0]
    head = wire.parse(msg.payload)
    verifier = Verifier.from_pem(wire.public_key_pem((bundle.path / "signing.key").read_bytes()))
    assert wire.verify(head, msg.topic, verifier), "the cloud refuses the station's signature"
    records = wire.decode_records(Topic.parse(msg.topic).kind, head.records)
    assert records
    assert all(isinstance(r, InventoryRecord) and r.tank in {1, 2} for r in records)
    assert all(r.rid > 0 for r in records), "every record went through the spool (rid)"
    # the gateway signs with libsodium: cryptography's own OpenSSL is never loaded
    assert str(station.root) in mapped, "the gateway runs the station venv's packages"
    assert "cryptography/hazmat/bindings" not in mapped
    assert "Traceback" not in gateway.tail(200)
