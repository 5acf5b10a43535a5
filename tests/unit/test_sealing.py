"""SM4 at rest on the gateway box: sealed secrets and spool rows (national cryptography)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fuelwatch.core.records import InventoryRecord
from fuelwatch.core.wire import Signer, generate_private_key_pem, record_json
from fuelwatch.gateway.sealing import MAGIC, BoxKey, SealError, read_secret
from fuelwatch.gateway.settings import load_gateway_config
from fuelwatch.gateway.spool import Spool

KEY = BoxKey(bytes.fromhex("0123456789abcdeffedcba9876543210"))


def test_the_cipher_is_sm4() -> None:
    # GB/T 32907-2016, appendix A example 1: key = plaintext = 0123456789abcdeffedcba9876543210
    block = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(block), modes.ECB()).encryptor()
    assert (enc.update(block) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sealed_values_open_only_with_the_key_and_role() -> None:
    sealed = KEY.seal(b"secret", b"signing.key")
    assert sealed.startswith(MAGIC)
    assert b"secret" not in sealed
    assert KEY.open(sealed, b"signing.key") == b"secret"
    with pytest.raises(SealError):
        KEY.open(sealed, b"mqtt.password")  # moved into another role
    with pytest.raises(SealError):
        BoxKey(bytes(16)).open(sealed, b"signing.key")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        KEY.open(tampered, b"signing.key")


def _bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "signing.key").write_bytes(generate_private_key_pem())
    (folder / "mqtt.password").write_text("station-password-123\n", encoding="utf-8")
    config = {
        "gateway_id": "gw-1",
        "district": "d1",
        "station": "S1",
        "signing_key": "signing.key",
        "mqtt": {"password_file": "mqtt.password"},
        "sealing": {"key_file": str(tmp_path / "box.key")},
    }
    (folder / "gateway.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def test_the_seal_command_seals_a_bundle_in_place(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    kid = Signer.from_pem((folder / "signing.key").read_bytes()).kid
    done = subprocess.run(
        [
            *(sys.executable, "-m", "fuelwatch.cli", "gateway", "seal"),
            "-c",
            str(folder / "gateway.yaml"),
            "--new-key",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in ("signing.key", "mqtt.password"):
        assert (folder / name).read_bytes().startswith(MAGIC)
        assert (folder / name).stat().st_mode & 0o077 == 0
    config = load_gateway_config(folder / "gateway.yaml")
    assert Signer.from_pem(config.signing_key_pem()).kid == kid
    assert config.mqtt.resolved_password(config.box_key()) == "station-password-123"
    with pytest.raises(SealError, match="sealed"):
        read_secret(config.signing_key, "signing.key", None)


async def test_a_sealed_spool_keeps_no_record_in_clear(tmp_path: Path) -> None:
    record = InventoryRecord(ts=1_000, tank=1, product="92", volume=12345.6, height=1.0)
    path = tmp_path / "spool.db"
    async with Spool(path, district="d", station="s", seal_with=KEY) as spool:
        await spool.put("atg1", [record])
        (row,) = await spool.read(10)
    assert row.body == record_json(record)
    with sqlite3.connect(path) as db:
        (raw,) = db.execute("SELECT body FROM records").fetchone()
    assert bytes(raw).startswith(MAGIC)
    assert b"12345.6" not in bytes(raw)
