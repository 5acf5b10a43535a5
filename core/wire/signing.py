"""Batch signatures: Ed25519 by default; ECDSA P-256/SHA-256, or SM2/SM3 (national
cryptography), chosen per gateway by its key. The trailer names the algorithm.

What is signed is ``DOMAIN || topic || 0x00 || body``: binding the topic means a message
replayed onto another station's topic fails, and the domain prefix keeps these signatures
from ever being valid for anything else signed with the same key.

One contract, two libraries. A gateway signs with its Ed25519 key through PyNaCl (libsodium),
so the station's process never loads ``cryptography``: that library carries its own OpenSSL
and costs ~9 MB of resident memory, more than the gateway's whole margin under its 50 MB
budget (docs/performance.md). Everything else (P-256 keys, keys in other encodings, key
generation, public keys, the cloud's verification) is ``openssl`` (``cryptography``), imported
by the functions below that need it, which is why they import inside. Ed25519 signatures are
deterministic (RFC 8032): both libraries give the same bytes for the same key and message, and
tests/unit/test_wire.py checks that they do. SM2 keys go through ``sm2`` (Tongsuo, the
optional extra ``fuelwatch[gm]``), imported only for a key on the SM2 curve.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nacl.signing import SigningKey

from fuelwatch.core.wire.algorithms import Algorithm, KeyError_, is_sm2_pem

if TYPE_CHECKING:
    from fuelwatch.core.wire.openssl import PublicKey
    from fuelwatch.core.wire.sm2 import Sm2Key

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

# RFC 8410: an unencrypted Ed25519 private key in PKCS#8 v1 is this prefix and the 32-byte seed
# (what `fuelwatch gateway keygen`, provisioning and `openssl genpkey` write); its
# SubjectPublicKeyInfo is this prefix and the 32-byte public key.
ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def signed_message(topic: str, body: bytes) -> bytes:
    return DOMAIN + topic.encode() + b"\x00" + body


def key_id(pub: PublicKey) -> str:
    """Stable key id: first 16 hex digits of SHA-256 over the SubjectPublicKeyInfo."""
    from fuelwatch.core.wire import openssl  # noqa: PLC0415 - see the module docstring

    return openssl.key_id(pub)


def generate_private_key_pem(alg: Algorithm = Algorithm.ED25519) -> bytes:
    """A new private key, unencrypted PKCS#8 PEM."""
    if alg is Algorithm.SM2:
        from fuelwatch.core.wire import sm2  # noqa: PLC0415 - see the module docstring

        return sm2.generate_pem()
    from fuelwatch.core.wire import openssl  # noqa: PLC0415 - see the module docstring

    return openssl.generate_private_key_pem(alg)


def public_key_pem(private_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM of a private key."""
    if is_sm2_pem(private_pem):
        from fuelwatch.core.wire import sm2  # noqa: PLC0415 - see the module docstring

        return sm2.private_to_public_pem(sm2.load_private(private_pem))
    from fuelwatch.core.wire import openssl  # noqa: PLC0415 - see the module docstring

    return openssl.public_key_pem(private_pem)


def ed25519_seed(pem: bytes) -> bytes | None:
    """The 32-byte seed of an unencrypted PKCS#8 v1 Ed25519 key in PEM; None for any other."""
    lines = [line.strip() for line in pem.strip().splitlines()]
    if len(lines) < 3 or (lines[0], lines[-1]) != (
        b"-----BEGIN PRIVATE KEY-----",
        b"-----END PRIVATE KEY-----",
    ):
        return None
    try:
        der = base64.b64decode(b"".join(lines[1:-1]), validate=True)
    except binascii.Error:
        return None
    if len(der) != len(ED25519_PKCS8_PREFIX) + 32 or not der.startswith(ED25519_PKCS8_PREFIX):
        return None
    return der[len(ED25519_PKCS8_PREFIX) :]


@dataclass(frozen=True, slots=True)
class Signer:
    """Holds a gateway's private key (inside ``sign``: libsodium's or ``cryptography``'s)."""

    kid: str
    alg: Algorithm
    sign: Callable[[bytes], bytes] = field(repr=False, compare=False)

    @classmethod
    def from_pem(cls, pem: bytes) -> Signer:
        seed = ed25519_seed(pem)
        if seed is not None:
            key = SigningKey(seed)
            spki = ED25519_SPKI_PREFIX + bytes(key.verify_key)
            return cls(
                kid=hashlib.sha256(spki).hexdigest()[:16],
                alg=Algorithm.ED25519,
                sign=lambda message: key.sign(message).signature,
            )
        if is_sm2_pem(pem):
            from fuelwatch.core.wire import sm2  # noqa: PLC0415 - see the module docstring

            sm2_key = sm2.load_private(pem)
            return cls(
                kid=sm2.key_id(sm2_key.public()),
                alg=Algorithm.SM2,
                sign=functools.partial(sm2.sign, sm2_key),
            )
        from fuelwatch.core.wire import openssl  # noqa: PLC0415 - see the module docstring

        private = openssl.load_private(pem)
        return cls(
            kid=openssl.key_id(private.public_key()),
            alg=openssl.algorithm_of(private),
            sign=functools.partial(openssl.sign, private),
        )

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyError_(f"cannot read signing key {path}: {exc.strerror}") from exc
        return cls.from_pem(pem)

    def sign_b64(self, message: bytes) -> str:
        return base64.b64encode(self.sign(message)).decode()


@dataclass(frozen=True, slots=True)
class Verifier:
    """Holds one registered public key (the cloud's side: always ``cryptography``)."""

    key: PublicKey | Sm2Key
    kid: str
    alg: Algorithm
    check: Callable[[bytes, bytes], bool] = field(repr=False, compare=False)

    @classmethod
    def from_pem(cls, pem: bytes) -> Verifier:
        if is_sm2_pem(pem):
            from fuelwatch.core.wire import sm2  # noqa: PLC0415 - see the module docstring

            sm2_key = sm2.load_public(pem)
            return cls(
                key=sm2_key,
                kid=sm2.key_id(sm2_key),
                alg=Algorithm.SM2,
                check=functools.partial(sm2.verify, sm2_key),
            )
        from fuelwatch.core.wire import openssl  # noqa: PLC0415 - see the module docstring

        key = openssl.load_public(pem)
        return cls(
            key=key,
            kid=openssl.key_id(key),
            alg=openssl.algorithm_of(key),
            check=functools.partial(openssl.verify, key),
        )

    def verify(self, message: bytes, signature: bytes) -> bool:
        return self.check(message, signature)
