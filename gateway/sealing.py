"""SM4 for secrets at rest on the gateway box (national cryptography), and for the spool.

The box's secrets - its signing key and its MQTT password - can be *sealed*: encrypted with
SM4-GCM (GB/T 32907 block cipher, GCM mode from ``cryptography``) under a 128-bit box key
kept in its own file (``sealing.key_file``: root-only, ideally on storage that is not copied
with the bundle, or provided by the box's secure element). A sealed file is::

    b"FWSM4\\x01" || nonce (12 random bytes) || ciphertext || GCM tag (16 bytes)

with the file's role (``signing.key``, ``mqtt.password``, or the record's topic for spool
rows) as associated data, so a sealed file moved into another role does not open.
``fuelwatch gateway seal`` seals a bundle's secrets in place; files without the header are
read as before, so sealing is optional and gradual. With ``sealing.spool: true`` every spool
row's body is sealed too (the topic stays clear: it only names the device and record kind).

What this protects: a copy of the bundle folder or the spool (a backup, a disk image, a
stolen SD card) without the box key. What it does not: an attacker who has the running box
as root, who can read the box key as the gateway does.

``cryptography`` is imported only when something is sealed or opened: a gateway that seals
nothing never loads it (its OpenSSL costs ~9 MB of the box's memory budget, core/wire/signing).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fuelwatch.core.errors import UserFacingError
from fuelwatch.core.files import write_secret

__all__ = [
    "MAGIC",
    "BoxKey",
    "SealError",
    "generate_box_key",
    "is_sealed",
    "read_secret",
    "seal_file",
]

MAGIC = b"FWSM4\x01"
_NONCE = 12
_TAG = 16


class SealError(UserFacingError, ValueError):
    """A sealed file that does not open (wrong box key, damaged, or moved to another role)."""


class BoxKey:
    """The box's 128-bit SM4 key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise SealError("an SM4 box key is 16 bytes (32 hex digits)")
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> BoxKey:
        try:
            text = path.read_text(encoding="ascii").strip()
            return cls(bytes.fromhex(text))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SealError(f"{path}: not a readable SM4 box key (32 hex digits)") from exc

    def seal(self, plain: bytes, role: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import (  # noqa: PLC0415 - see the docstring
            Cipher,
            algorithms,
            modes,
        )

        nonce = os.urandom(_NONCE)
        enc = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(role)
        body = enc.update(plain) + enc.finalize()
        return MAGIC + nonce + body + enc.tag

    def open(self, sealed: bytes, role: bytes) -> bytes:
        if not is_sealed(sealed) or len(sealed) < len(MAGIC) + _NONCE + _TAG:
            raise SealError("not a sealed value")
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415 - see the docstring
        from cryptography.hazmat.primitives.ciphers import (  # noqa: PLC0415
            Cipher,
            algorithms,
            modes,
        )

        nonce = sealed[len(MAGIC) : len(MAGIC) + _NONCE]
        body, tag = sealed[len(MAGIC) + _NONCE : -_TAG], sealed[-_TAG:]
        dec = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(role)
        try:
            return dec.update(body) + dec.finalize()
        except InvalidTag as exc:
            raise SealError("a sealed value does not open with this box key") from exc


def generate_box_key(path: Path) -> None:
    """A new random box key, written mode 0600 (refuses to overwrite one)."""
    if path.exists():
        raise SealError(f"{path} exists: a box key is never replaced in place")
    write_secret(path, secrets.token_bytes(16).hex().encode() + b"\n")


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC)


def read_secret(path: Path, role: str, key: BoxKey | None) -> bytes:
    """A secret file's content, opened if sealed (then ``key`` is needed)."""
    data = path.read_bytes()
    if not is_sealed(data):
        return data
    if key is None:
        raise SealError(f"{path} is sealed, but the config names no sealing.key_file")
    try:
        return key.open(data, role.encode())
    except SealError as exc:
        raise SealError(f"{path}: {exc}") from exc


def seal_file(path: Path, role: str, key: BoxKey) -> bool:
    """Seal ``path`` in place (mode 0600); False if it already was."""
    data = path.read_bytes()
    if is_sealed(data):
        return False
    tmp = path.with_name(path.name + ".sealing")
    tmp.unlink(missing_ok=True)
    write_secret(tmp, key.seal(data, role.encode()))  # a new file: mode 0600 from the start
    tmp.replace(path)  # atomic: the clear file is never half overwritten
    return True
