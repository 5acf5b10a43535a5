"""SM2/SM3 envelope signatures (national cryptography) against an independent implementation:
the system's OpenSSL 3 command line checks our signatures and makes ones we check, with the
default user id that docs/protocol.md names."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fuelwatch.core import wire
from fuelwatch.core.wire import Algorithm, Signer, Verifier
from fuelwatch.core.wire.signing import signed_message
from tests.unit.test_wire import TOPIC, payload

OPENSSL = shutil.which("openssl")
DISTID = "distid:1234567812345678"
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


def _keys(tmp_path: Path) -> tuple[Signer, Verifier, Path, Path]:
    pem = wire.generate_private_key_pem(Algorithm.SM2)
    private, public = tmp_path / "key.pem", tmp_path / "pub.pem"
    private.write_bytes(pem)
    public.write_bytes(wire.public_key_pem(pem))
    return Signer.from_pem(pem), Verifier.from_pem(public.read_bytes()), private, public


@needs_openssl
def test_openssl_verifies_our_envelope_signature(tmp_path: Path) -> None:
    signer, _, _, public = _keys(tmp_path)
    head = wire.parse(payload(signer))
    assert head.alg is Algorithm.SM2
    (tmp_path / "msg").write_bytes(signed_message(TOPIC, head.body))
    (tmp_path / "sig").write_bytes(head.signature)
    done = subprocess.run(
        [
            *(str(OPENSSL), "dgst", "-sm3", "-verify", str(public), "-sigopt", DISTID),
            *("-signature", str(tmp_path / "sig"), str(tmp_path / "msg")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Verified OK" in done.stdout


@needs_openssl
def test_we_verify_a_signature_openssl_made(tmp_path: Path) -> None:
    _, verifier, private, _ = _keys(tmp_path)
    message = signed_message(TOPIC, b'{"v":1}')
    (tmp_path / "msg").write_bytes(message)
    subprocess.run(
        [
            *(str(OPENSSL), "dgst", "-sm3", "-sign", str(private), "-sigopt", DISTID),
            *("-out", str(tmp_path / "sig"), str(tmp_path / "msg")),
        ],
        check=True,
        capture_output=True,
    )
    signature = (tmp_path / "sig").read_bytes()
    assert verifier.verify(message, signature)
    assert not verifier.verify(message + b" ", signature)
    assert not verifier.verify(message, b"\x00not der")


def test_an_sm2_key_cannot_pass_for_another_algorithm(tmp_path: Path) -> None:
    signer, verifier, _, _ = _keys(tmp_path)
    head = wire.parse(payload(signer))
    p256 = Verifier.from_pem(wire.public_key_pem(wire.generate_private_key_pem(Algorithm.P256)))
    assert not wire.verify(head, TOPIC, p256)  # the trailer names sm2: a p256 key is refused
    assert wire.verify(head, TOPIC, verifier)
