"""The Mosquitto password file: accounts the broker checks on CONNECT.

``save`` writes atomically; the broker reads the file at start and on SIGHUP.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path

__all__ = ["PBKDF2_ITERATIONS", "PasswordFile", "hash_password"]

# mosquitto_passwd 2.0 writes 101 iterations, far too few against a stolen file. Mosquitto
# checks a CONNECT's password on its one event-loop thread, so the count is also a cost at
# every (re)connect: 10,000 take about 20 ms here, a thousand stations reconnecting after an
# outage about 20 s of broker time. Generated station passwords (144 random bits) need no
# stretching at all; the count protects the human-chosen ones (alert recipients).
PBKDF2_ITERATIONS = 10_000


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """A Mosquitto 2.0 password hash: ``$7$iterations$salt$pbkdf2-sha512``."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


class PasswordFile:
    """Mosquitto password file; ``save`` is atomic, then SIGHUP the broker to reload."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if ":" in line and not line.startswith("#"):
                    user, hashed = line.split(":", 1)
                    self.entries[user] = hashed

    def set(self, user: str, password: str) -> None:
        if not user or any(c in user for c in ":+#/\n"):
            raise ValueError(f"invalid MQTT user name {user!r}")
        self.entries[user] = hash_password(password)

    def remove(self, user: str) -> None:
        self.entries.pop(user, None)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            "".join(f"{u}:{h}\n" for u, h in sorted(self.entries.items())), encoding="utf-8"
        )
        tmp.chmod(0o600)
        tmp.replace(self.path)
