"""The password policy (MLPS level 3: complexity, no reuse) and argon2id hashing.

A password is accepted when it is

- at least 12 characters with at least three of: lower case, upper case, digits, other
  characters (space included) - or a passphrase of at least 20 characters;
- not containing the user name (in any letter case);
- none of the user's last ``HISTORY`` passwords, nor the current one.

Hashes are argon2id (RFC 9106 low-memory profile); verification never raises.
"""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "HISTORY",
    "MIN_LENGTH",
    "MIN_PASSPHRASE",
    "PolicyError",
    "check_policy",
    "hash_password",
    "needs_rehash",
    "verify",
]

MIN_LENGTH = 12
MIN_PASSPHRASE = 20
MIN_CLASSES = 3
HISTORY = 5
_HASHER = PasswordHasher()


class PolicyError(ValueError):
    """A password the policy refuses; the message says which rule."""


def _classes(password: str) -> int:
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def check_policy(password: str, *, username: str, previous: Iterable[str] = ()) -> None:
    """Raise ``PolicyError`` unless ``password`` fits; ``previous`` are earlier hashes."""
    if len(password) < MIN_LENGTH:
        raise PolicyError(f"password must have at least {MIN_LENGTH} characters")
    if len(password) < MIN_PASSPHRASE and _classes(password) < MIN_CLASSES:
        raise PolicyError(
            f"password must mix at least {MIN_CLASSES} of lower case, upper case, digits and "
            f"other characters (or be a passphrase of at least {MIN_PASSPHRASE} characters)"
        )
    if username and username.lower() in password.lower():
        raise PolicyError("password must not contain the user name")
    if any(verify(hashed, password) for hashed in previous):
        raise PolicyError(f"password must differ from the last {HISTORY} passwords")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def needs_rehash(hashed: str) -> bool:
    return _HASHER.check_needs_rehash(hashed)


def verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
