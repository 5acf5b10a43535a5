"""Batch signatures: Ed25519 by default, ECDSA P-256/SHA-256 as an option.

What is signed is ``DOMAIN || topic || 0x00 || body``: binding the topic means a message
replayed onto another station's topic fails, and the domain prefix keeps these signatures
from ever being valid for anything else signed with the same key.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from fuelwatch.errors import UserFacingError

__all__ = [
    "Algorithm",
    "KeyError_",
    "Signer",
    "Verifier",
    "generate_private_key_pem",
    "key_id",
    "public_key_pem",
    "signed_message",
]

DOMAIN = b"fuelwatch/v1\x00"


class Algorithm(StrEnum):
    ED25519 = "ed25519"
    P256 = "p256"


class KeyError_(UserFacingError, ValueError):  # noqa: N801 - trailing underscore: not the builtin KeyError
    """A key could not be loaded or does not fit the algorithm."""


PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def signed_message(topic: str, body: bytes) -> bytes:
    return DOMAIN + topic.encode() + b"\x00" + body


def _spki(pub: PublicKey) -> bytes:
    return pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(pub: PublicKey) -> str:
    """Stable key id: first 16 hex digits of SHA-256 over the SubjectPublicKeyInfo."""
    return hashlib.sha256(_spki(pub)).hexdigest()[:16]


def algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return Algorithm.ED25519
    if isinstance(key.curve, ec.SECP256R1):
        return Algorithm.P256
    raise KeyError_(f"unsupported curve {key.curve.name}; use Ed25519 or P-256")


def generate_private_key_pem(alg: Algorithm = Algorithm.ED25519) -> bytes:
    key: PrivateKey
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if alg is Algorithm.ED25519
        else (ec.generate_private_key(ec.SECP256R1()))
    )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_private(pem: bytes) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyError_(f"unsupported private key type {type(key).__name__}")
    algorithm_of(key)
    return key


def _load_public(pem: bytes) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise KeyError_(f"unsupported public key type {type(key).__name__}")
    algorithm_of(key)
    return key


def public_key_pem(private_pem: bytes) -> bytes:
    return (
        _load_private(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@dataclass(frozen=True, slots=True)
class Signer:
    """Holds a gateway's private key."""

    key: PrivateKey
    kid: str
    alg: Algorithm

    @classmethod
    def from_pem(cls, pem: bytes) -> Signer:
        key = _load_private(pem)
        return cls(key=key, kid=key_id(key.public_key()), alg=algorithm_of(key))

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyError_(f"cannot read signing key {path}: {exc.strerror}") from exc
        return cls.from_pem(pem)

    def sign(self, message: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(message)
        return self.key.sign(message, ec.ECDSA(hashes.SHA256()))

    def sign_b64(self, message: bytes) -> str:
        return base64.b64encode(self.sign(message)).decode()


@dataclass(frozen=True, slots=True)
class Verifier:
    """Holds one registered public key."""

    key: PublicKey
    kid: str
    alg: Algorithm

    @classmethod
    def from_pem(cls, pem: bytes) -> Verifier:
        key = _load_public(pem)
        return cls(key=key, kid=key_id(key), alg=algorithm_of(key))

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            if isinstance(self.key, ed25519.Ed25519PublicKey):
                self.key.verify(signature, message)
            else:
                self.key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True
