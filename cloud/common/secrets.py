"""Is a configured secret good enough for production? Placeholders, short and guessable values.

A deployment that copies ``.env.example`` and forgets one value must not start: a JWT secret
that is public (the example's placeholder) lets anyone forge an administrator's token. The
checks are deliberately simple and explainable to an operator:

- *placeholder*: the value contains a word that only examples use (``change-me``, ``example``);
- *short*: fewer characters than the secret's minimum;
- *guessable*: a repeated pattern (``abcabcabc``), or an entropy estimate below the minimum.
  The estimate is the Shannon entropy of the value's own character frequencies times its
  length: 0 bits for ``aaaa…``, about 5.3 bits a character for ``secrets.token_urlsafe``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

__all__ = ["PLACEHOLDER_WORDS", "SecretRule", "estimated_bits", "secret_problems"]

#: Substrings (lower case) that mark a value as copied from an example, never chosen.
PLACEHOLDER_WORDS = (
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "placeholder",
    "example",
    "fuelwatch-local",
    "password",
    "secret",
    "dummy",
    "xxxx",
)


@dataclass(frozen=True, slots=True)
class SecretRule:
    name: str  # the environment variable an operator sets
    min_length: int
    min_bits: float


def estimated_bits(value: str) -> float:
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return per_char * n


def _periodic(value: str) -> bool:
    n = len(value)
    return any(value == (value[:p] * (n // p + 1))[:n] for p in range(1, n // 2 + 1))


def secret_problems(value: str, rule: SecretRule) -> list[str]:
    """Why ``value`` is unfit for ``rule`` (empty: fit). Never repeats the value itself."""
    lowered = value.lower()
    hits = [w for w in PLACEHOLDER_WORDS if w in lowered]
    if hits:
        return [f"{rule.name} is a placeholder (contains {hits[0]!r}): set a random value"]
    problems: list[str] = []
    if len(value) < rule.min_length:
        problems.append(
            f"{rule.name} is too short ({len(value)} characters, at least {rule.min_length})"
        )
    elif _periodic(value) or estimated_bits(value) < rule.min_bits:
        problems.append(
            f"{rule.name} is guessable (about {estimated_bits(value):.0f} bits, at least "
            f"{rule.min_bits:.0f}): make one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return problems
