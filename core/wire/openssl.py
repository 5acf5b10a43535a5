"""Keys through ``cryptography`` (OpenSSL): generation, PEM loading, public keys, key ids,
ECDSA P-256 signatures, and every verification (the cloud's side).

``signing`` imports this module only where one of these is needed: a gateway whose key is
Ed25519 signs through libsodium and never loads it (``signing`` says why).
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from fuelwatch.core.wire.algorithms import Algorithm, KeyError_

__all__ = [
    "PrivateKey",
    "PublicKey",
    "algorithm_of",
    "generate_private_key_pem",
    "key_id",
    "load_private",
    "load_public",
    "public_key_pem",
    "sign",
    "verify",
]

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def key_id(pub: PublicKey) -> str:
    """Stable key id: first 16 hex digits of SHA-256 over the SubjectPublicKeyInfo."""
    spki = pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()[:16]


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


def load_private(pem: bytes) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyError_(f"unsupported private key type {type(key).__name__}")
    algorithm_of(key)
    return key


def load_public(pem: bytes) -> PublicKey:
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
        load_private(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def sign(key: PrivateKey, message: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def verify(key: PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
