"""SM2 signatures with SM3 (GB/T 32918, GM/T 0009), C-backed by Tongsuo (``tongsuopy``).

``tongsuopy`` is the Python binding of Tongsuo (铜锁, the OpenAtom Foundation's OpenSSL fork
with the Chinese national algorithms); it signs and verifies in C, about 1,500 verifications
a second on one core here (bench/ingest.py), where the pure-Python ``gmssl`` manages 6 on a
100-record batch (docs/security.md#national-cryptography). It is the optional extra
``fuelwatch[gm]``; without it this module still imports, and every SM2 call says what to
install.

Wire details: the signature is DER ``SEQUENCE { r INTEGER, s INTEGER }`` over the message,
with the SM2 digest ``e = SM3(Z || message)`` where ``Z`` is computed with the default user
id ``1234567812345678`` (GM/T 0009-2012 §10). Keys are PEM PKCS#8 / SubjectPublicKeyInfo
with the id-ecPublicKey algorithm and the SM2 curve (OID 1.2.156.10197.1.301). OpenSSL 3
checks such a signature with ``openssl dgst -sm3 -verify pub.pem -sigopt
distid:1234567812345678 -signature sig msg``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from fuelwatch.core.wire.algorithms import KeyError_

__all__ = [
    "AVAILABLE",
    "Sm2Key",
    "generate_pem",
    "key_id",
    "load_private",
    "load_public",
    "private_to_public_pem",
    "sign",
    "verify",
]

try:
    from tongsuopy.crypto import hashes as _hashes
    from tongsuopy.crypto import serialization as _serialization
    from tongsuopy.crypto.asymciphers import ec as _ec
    from tongsuopy.crypto.exceptions import InternalError as _InternalError
    from tongsuopy.crypto.exceptions import InvalidSignature as _InvalidSignature

    AVAILABLE = True
except ImportError:  # the optional extra is not installed
    AVAILABLE = False


@dataclass(frozen=True, slots=True)
class Sm2Key:
    """A Tongsuo SM2 key, private or public (kept apart from ``cryptography``'s keys)."""

    key: Any
    private: bool

    def public(self) -> Sm2Key:
        return Sm2Key(self.key.public_key(), private=False) if self.private else self


def _need() -> None:
    if not AVAILABLE:
        raise KeyError_("SM2 needs the national-crypto extra: pip install 'fuelwatch[gm]'")


def generate_pem() -> bytes:
    _need()
    key = _ec.generate_private_key(_ec.SM2())
    return bytes(
        key.private_bytes(
            _serialization.Encoding.PEM,
            _serialization.PrivateFormat.PKCS8,
            _serialization.NoEncryption(),
        )
    )


def load_private(pem: bytes) -> Sm2Key:
    _need()
    try:
        return Sm2Key(_serialization.load_pem_private_key(pem, password=None), private=True)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"not a PEM SM2 private key: {exc}") from exc


def load_public(pem: bytes) -> Sm2Key:
    _need()
    try:
        return Sm2Key(_serialization.load_pem_public_key(pem), private=False)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"not a PEM SM2 public key: {exc}") from exc


def _spki(key: Sm2Key) -> bytes:
    return bytes(
        key.public().key.public_bytes(
            _serialization.Encoding.DER, _serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def key_id(key: Sm2Key) -> str:
    """The same rule as every key: SHA-256 over the SubjectPublicKeyInfo, 16 hex digits."""
    return hashlib.sha256(_spki(key)).hexdigest()[:16]


def private_to_public_pem(key: Sm2Key) -> bytes:
    return bytes(
        key.public().key.public_bytes(
            _serialization.Encoding.PEM, _serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def sign(key: Sm2Key, message: bytes) -> bytes:
    return bytes(key.key.sign(message, _ec.ECDSA(_hashes.SM3())))


def verify(key: Sm2Key, message: bytes, signature: bytes) -> bool:
    try:
        key.key.verify(signature, message, _ec.ECDSA(_hashes.SM3()))
    except (_InvalidSignature, ValueError):
        return False
    except _InternalError:  # Tongsuo's answer to a signature that is not DER at all
        return False
    return True
