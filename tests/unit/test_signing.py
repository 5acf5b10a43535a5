"""Batch signing: the gateway's libsodium path against the cloud's ``cryptography`` path.

That a gateway process never loads cryptography is tests/install/test_gateway_path.py.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from fuelwatch.core import wire
from fuelwatch.core.wire import Algorithm, Signer, Verifier
from fuelwatch.core.wire.signing import KeyError_, ed25519_seed

MESSAGE = wire.signing.signed_message("fuel/v1/binhai/BH0001/atg1/inventory", b'{"v":1}')


def test_ed25519_signatures_are_the_same_bytes_in_both_libraries() -> None:
    pem = wire.generate_private_key_pem(Algorithm.ED25519)
    assert ed25519_seed(pem) is not None  # the gateway's path, not the fallback
    signer = Signer.from_pem(pem)
    reference = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(reference, ed25519.Ed25519PrivateKey)
    assert signer.sign(MESSAGE) == reference.sign(MESSAGE)
    verifier = Verifier.from_pem(wire.public_key_pem(pem))
    assert signer.kid == verifier.kid == wire.key_id(reference.public_key())
    assert verifier.verify(MESSAGE, signer.sign(MESSAGE))
    assert not verifier.verify(MESSAGE + b"x", signer.sign(MESSAGE))


def test_a_key_file_with_windows_line_ends_takes_the_same_path() -> None:
    pem = wire.generate_private_key_pem()
    crlf = pem.replace(b"\n", b"\r\n")
    assert ed25519_seed(crlf) == ed25519_seed(pem)
    assert Signer.from_pem(crlf).sign(MESSAGE) == Signer.from_pem(pem).sign(MESSAGE)


def test_other_keys_sign_through_cryptography() -> None:
    p256 = wire.generate_private_key_pem(Algorithm.P256)
    assert ed25519_seed(p256) is None
    signer = Signer.from_pem(p256)
    verifier = Verifier.from_pem(wire.public_key_pem(p256))
    assert (signer.alg, signer.kid) == (Algorithm.P256, verifier.kid)
    assert verifier.verify(MESSAGE, signer.sign(MESSAGE))
    # Ed25519 as PKCS#8 v2 (RFC 8410 OneAsymmetricKey, the public key included): not the
    # short path's layout, so cryptography reads it; same key, same signature
    v1 = wire.generate_private_key_pem()
    seed = ed25519_seed(v1)
    assert seed is not None
    pub = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    der = bytes.fromhex("3051020101300506032b657004220420") + seed + bytes.fromhex("812100") + pub
    v2 = b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der) + b"-----END PRIVATE KEY-----\n"
    assert ed25519_seed(v2) is None
    assert Signer.from_pem(v2).sign(MESSAGE) == Signer.from_pem(v1).sign(MESSAGE)
    assert Signer.from_pem(v2).kid == Signer.from_pem(v1).kid


def test_what_is_not_a_key_is_a_key_error() -> None:
    openssh = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    for bad in (b"", b"-----BEGIN PRIVATE KEY-----\n***\n-----END PRIVATE KEY-----\n", openssh):
        assert ed25519_seed(bad) is None
        with pytest.raises(KeyError_, match="not a PEM private key"):
            Signer.from_pem(bad)  # named for the operator, not a traceback
