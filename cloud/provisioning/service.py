"""Provision a gateway: identity, registry rows, MQTT credentials, and its config bundle.

One call does everything a new gateway box needs and writes it to a folder the box loads:

    bundle/
      gateway.yaml      the gateway config (devices to be filled in by the installer)
      signing.key       its Ed25519 (or P-256) private key, mode 0600, never leaves the box
      mqtt.password     its MQTT password, mode 0600

The public key goes to the registry; the password hash to the broker's password file.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.provisioning.passwords import PasswordFile
from fuelwatch.cloud.store.registry import ensure_station, register_gateway, register_key
from fuelwatch.core.errors import UserFacingError
from fuelwatch.core.files import write_secret
from fuelwatch.core.wire import Algorithm, Signer, generate_private_key_pem, public_key_pem
from fuelwatch.core.wire.accounts import validate_station_id

__all__ = [
    "Bundle",
    "MqttAccounts",
    "ProvisioningError",
    "gateway_config",
    "provision_gateway",
    "render_config",
]

LOGGER = logging.getLogger(__name__)


class ProvisioningError(UserFacingError, ValueError):
    """Provisioning cannot go on without an operator decision."""


@dataclass(frozen=True, slots=True)
class Bundle:
    path: Path
    config_file: Path
    gateway: str
    station: str
    district: str
    kid: str
    mqtt_username: str
    mqtt_password: str


def provision_gateway(
    sessions: sessionmaker[Session],
    *,
    district: str,
    station: str,
    gateway: str,
    out_dir: Path,
    password_file: Path | None,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 1883,
    alg: Algorithm = Algorithm.ED25519,
    devices: list[dict[str, Any]] | None = None,
    station_name: str = "",
    mqtt_password: str | None = None,
    ca_cert: Path | None = None,
) -> Bundle:
    """Create (or re-create the files of) one gateway; idempotent for the registry rows.

    The MQTT user name is the station id (the ACL confines it to the station's subtree), so
    a station's gateways share one password. A second gateway for a station that already has
    an account needs that password (``mqtt_password``); we never silently replace it, which
    would lock out the station's other gateways.

    With ``ca_cert`` (the CA that signed the broker's certificate) the bundle connects with
    TLS and the password (``tls_password``, the API's default); without it, plain MQTT.
    """
    validate_station_id(station)  # before anything touches the broker's accounts
    key_file = out_dir / "signing.key"
    pem = key_file.read_bytes() if key_file.exists() else generate_private_key_pem(alg)
    signer = Signer.from_pem(pem)
    pw_file = out_dir / "mqtt.password"
    accounts = MqttAccounts(password_file) if password_file is not None else None
    if pw_file.exists():
        password = pw_file.read_text(encoding="utf-8").strip()
    elif mqtt_password:
        password = mqtt_password
    elif accounts is not None and accounts.has(station):
        raise ProvisioningError(
            f"station {station} already has an MQTT account: give its password "
            "(--mqtt-password) so this gateway shares it, or rotate it for all of the "
            "station's gateways"
        )
    else:
        password = secrets.token_urlsafe(18)
    with sessions.begin() as session:
        ensure_station(session, district=district, station=station, name=station_name)
        register_gateway(session, gateway=gateway, station=station)
        register_key(session, gateway=gateway, public_key_pem=public_key_pem(pem))

    if accounts is not None:
        accounts.set(station, password)

    write_secret(key_file, pem)
    write_secret(pw_file, password.encode())
    if ca_cert is not None:
        (out_dir / "ca.crt").write_bytes(ca_cert.read_bytes())
    config = gateway_config(
        gateway=gateway,
        district=district,
        station=station,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        devices=devices,
        credential="tls_password" if ca_cert is not None else "password",
    )
    config_file = out_dir / "gateway.yaml"
    config_file.write_text(render_config(config), encoding="utf-8")
    return Bundle(out_dir, config_file, gateway, station, district, signer.kid, station, password)


def gateway_config(
    *,
    gateway: str,
    district: str,
    station: str,
    mqtt_host: str,
    mqtt_port: int,
    devices: list[dict[str, Any]] | None = None,
    credential: str = "password",
) -> dict[str, Any]:
    """The gateway.yaml of a bundle; file names are relative to the bundle folder.

    ``credential``: ``certificate`` (TLS, client certificate), ``tls_password`` (TLS, server
    certificate checked against ca.crt, then the password) or ``password`` (plain MQTT)."""
    mqtt: dict[str, Any] = {"host": mqtt_host, "port": mqtt_port, "username": station}
    if credential == "certificate":
        mqtt["tls"] = {"ca_file": "ca.crt", "cert_file": "client.crt", "key_file": "client.key"}
    else:
        mqtt["password_file"] = "mqtt.password"  # noqa: S105 - a file name
        if credential == "tls_password":
            mqtt["tls"] = {"ca_file": "ca.crt"}
    return {
        "gateway_id": gateway,
        "district": district,
        "station": station,
        "signing_key": "signing.key",
        "mqtt": mqtt,
        "spool": {"path": "spool/spool.db"},
        "devices": devices or [],
    }


def render_config(config: dict[str, Any]) -> str:
    return (
        "# fuelwatch gateway bundle, made by provisioning. Add this station's devices below.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    )


def _verify_mosquitto_hash(hashed: str, password: str) -> bool:
    """Check a password against a ``$7$`` (PBKDF2-SHA512) Mosquitto hash."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    try:
        iterations, salt, digest = int(parts[2]), base64.b64decode(parts[3]), parts[4]
    except ValueError:
        return False
    mine = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return hmac.compare_digest(base64.b64encode(mine).decode(), digest)


class MqttAccounts:
    """The broker's password file as the API changes it: locked, atomic, then SIGHUP.

    Several API workers may provision at once, so every change holds an exclusive lock on
    ``<file>.lock`` across read-modify-write. Mosquitto re-reads the file on SIGHUP; with
    ``pid_file`` set the broker is signalled after each change.
    """

    def __init__(self, password_file: Path, *, pid_file: Path | None = None) -> None:
        self.password_file = password_file
        self.pid_file = pid_file

    @contextlib.contextmanager
    def _locked(self) -> Iterator[PasswordFile]:
        lock = self.password_file.with_name(self.password_file.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield PasswordFile(self.password_file)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def has(self, user: str) -> bool:
        return user in PasswordFile(self.password_file).entries

    def check(self, user: str, password: str) -> bool:
        hashed = PasswordFile(self.password_file).entries.get(user)
        return hashed is not None and _verify_mosquitto_hash(hashed, password)

    def set(self, user: str, password: str) -> bool:
        """Set the password; return whether the broker was told to reload."""
        with self._locked() as passwd:
            passwd.set(user, password)
            passwd.save()
        return self.reload()

    def remove(self, user: str) -> bool:
        with self._locked() as passwd:
            passwd.remove(user)
            passwd.save()
        return self.reload()

    def reload(self) -> bool:
        if self.pid_file is None:
            return False
        try:
            pid = int(self.pid_file.read_text(encoding="ascii").strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as exc:
            LOGGER.error("cannot signal the broker (pid file %s): %s", self.pid_file, exc)
            return False
        return True
