"""The signature algorithms of the wire protocol, and the error a key that does not fit raises.

Apart from both implementations (``signing``: Ed25519 through libsodium; ``openssl``: everything
through ``cryptography``) so that each can name them.
"""

from __future__ import annotations

import base64
from enum import StrEnum

from fuelwatch.core.errors import UserFacingError

__all__ = ["SM2_CURVE_DER", "Algorithm", "KeyError_", "is_sm2_pem"]

#: DER of the SM2 curve's OID 1.2.156.10197.1.301, as it appears in SM2 keys' encodings.
SM2_CURVE_DER = bytes.fromhex("06082a811ccf5501822d")


class Algorithm(StrEnum):
    ED25519 = "ed25519"
    P256 = "p256"
    SM2 = "sm2"  # SM2 with SM3, default user id (GM/T 0009); needs fuelwatch[gm] (wire/sm2.py)


def is_sm2_pem(pem: bytes) -> bool:
    """Does this PEM key carry the SM2 curve? (a look at the DER, no crypto library loaded)"""
    body = b"".join(
        line for line in pem.strip().splitlines() if line and not line.startswith(b"-----")
    )
    try:
        der = base64.b64decode(body, validate=False)
    except ValueError:
        return False
    return SM2_CURVE_DER in der


class KeyError_(UserFacingError, ValueError):  # noqa: N801 - trailing underscore: not the builtin KeyError
    """A key could not be loaded or does not fit the algorithm."""
