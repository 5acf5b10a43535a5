"""Webhook signatures: ``Fuelwatch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The MAC covers ``f"{t}.{body}"`` (the raw body bytes), so a receiver that checks the MAC and
that ``t`` is recent refuses both forged bodies and replays of old ones. ``verify`` is what a
receiver runs (docs/alerts.md shows it standalone).
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["HEADER", "SignatureError", "sign", "verify"]

HEADER = "Fuelwatch-Signature"
DEFAULT_TOLERANCE = 300.0  # seconds either side of the receiver's clock


class SignatureError(ValueError):
    """The signature header is missing, malformed, wrong, or too old."""


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header value for ``body`` signed now (or at ``timestamp``)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a signature header; return its timestamp or raise ``SignatureError``."""
    if not header:
        raise SignatureError(f"no {HEADER} header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed {HEADER} header")
        parts.setdefault(key, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise SignatureError("no valid timestamp t=") from exc
    current = time.time() if now is None else now
    if abs(current - t) > tolerance:
        raise SignatureError(f"timestamp {t} is outside the {tolerance:.0f} s window")
    expected = _mac(secret, t, body)
    # Several v1= values are allowed (a secret being rotated); any match will do.
    if not any(hmac.compare_digest(expected, v) for v in parts.get("v1", [])):
        raise SignatureError("signature does not match")
    return t
