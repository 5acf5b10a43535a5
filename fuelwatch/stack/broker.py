"""Mosquitto for the local stack: password file, ACL and config from ``broker/``."""

from __future__ import annotations

import getpass
import shutil
from dataclasses import dataclass
from pathlib import Path

from fuelwatch.cloud.provisioning.passwords import PasswordFile
from fuelwatch.stack.process import ManagedProcess, ServiceError, wait_port

__all__ = [
    "BROKER_DIR",
    "BrokerFiles",
    "mosquitto_process",
    "render_broker",
]

BROKER_DIR = Path(__file__).resolve().parents[2] / "broker"


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
    tls_password_port: int | None = None,
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
    if tls_password_port is not None:
        if certs_dir is None:
            raise ValueError("tls_password_port needs certs_dir")
        tls_block += (
            (template_dir / "tls-password-listener.conf.tmpl")
            .read_text(encoding="utf-8")
            .format(
                tls_password_port=tls_password_port,
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
