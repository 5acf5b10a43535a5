"""Mosquitto for the local stack: password file, ACL and config from ``broker/``."""

from __future__ import annotations

import base64
import getpass
import hashlib
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from fuelwatch.stack.process import ManagedProcess, ServiceError, wait_port

__all__ = [
    "BROKER_DIR",
    "BrokerFiles",
    "PasswordFile",
    "hash_password",
    "mosquitto_process",
    "render_broker",
]

BROKER_DIR = Path(__file__).resolve().parents[2] / "broker"
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes ($7$)


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """A Mosquitto 2.0 password hash: ``$7$iterations$salt$pbkdf2-sha512``."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


class PasswordFile:
    """Mosquitto password file; ``save`` is atomic, then SIGHUP the broker to reload."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if ":" in line and not line.startswith("#"):
                    user, hashed = line.split(":", 1)
                    self.entries[user] = hashed

    def set(self, user: str, password: str) -> None:
        if not user or any(c in user for c in ":+#/\n"):
            raise ValueError(f"invalid MQTT user name {user!r}")
        self.entries[user] = hash_password(password)

    def remove(self, user: str) -> None:
        self.entries.pop(user, None)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            "".join(f"{u}:{h}\n" for u, h in sorted(self.entries.items())), encoding="utf-8"
        )
        tmp.chmod(0o600)
        tmp.replace(self.path)


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    config: Path
    password_file: Path
    acl_file: Path
    log_file: Path
    port: int
    tls_port: int | None


def render_broker(
    state_dir: Path,
    *,
    port: int,
    cloud_user: str,
    cloud_password: str,
    tls_port: int | None = None,
    certs_dir: Path | None = None,
    bind: str = "127.0.0.1",
    template_dir: Path = BROKER_DIR,
) -> BrokerFiles:
    """Write mosquitto.conf, the ACL and the password file (with the cloud account)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    data_dir = state_dir / "data"
    data_dir.mkdir(exist_ok=True)
    files = BrokerFiles(
        config=state_dir / "mosquitto.conf",
        password_file=state_dir / "passwd",
        acl_file=state_dir / "acl",
        log_file=state_dir / "mosquitto.log",
        port=port,
        tls_port=tls_port,
    )
    acl = (template_dir / "acl.tmpl").read_text(encoding="utf-8").format(cloud_user=cloud_user)
    files.acl_file.write_text(acl, encoding="utf-8")
    passwd = PasswordFile(files.password_file)
    passwd.set(cloud_user, cloud_password)
    passwd.save()
    tls_block = ""
    if tls_port is not None:
        if certs_dir is None:
            raise ValueError("tls_port needs certs_dir")
        tls_block = (
            (template_dir / "tls-listener.conf.tmpl")
            .read_text(encoding="utf-8")
            .format(
                tls_port=tls_port,
                bind=bind,
                ca_file=certs_dir / "ca.crt",
                cert_file=certs_dir / "server.crt",
                key_file=certs_dir / "server.key",
            )
        )
    conf = (
        (template_dir / "mosquitto.conf.tmpl")
        .read_text(encoding="utf-8")
        .format(
            password_file=files.password_file,
            acl_file=files.acl_file,
            data_dir=data_dir,
            log_file=files.log_file,
            port=port,
            bind=bind,
            tls_block=tls_block,
            run_user=getpass.getuser(),
        )
    )
    files.config.write_text(conf, encoding="utf-8")
    return files


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        raise ServiceError("mosquitto is not installed (apt-get install -y mosquitto)")
    return found


def mosquitto_process(files: BrokerFiles) -> ManagedProcess:
    return ManagedProcess(
        "mosquitto",
        [mosquitto_binary(), "-c", str(files.config)],
        log_file=files.log_file.with_suffix(".stdout"),
        ready=lambda: wait_port(files.port, timeout=0.2),
    )
