"""Backoff lives in one place, ``core/retry.py``: no other module writes its own formula.

Seven loops once had seven formulas (``random.uniform(0.2, min(30, 1.5 ** min(10, attempt)))``
and the like). The check reads the source as text for the shapes those took; the simulator's
physics draws from seeded ``random.Random`` objects (``rng.uniform``) and is not matched.
"""

from __future__ import annotations

import re

import pytest

from tests.architecture.imports import ROOT, module_files

POLICY = ROOT / "core" / "retry.py"

#: what a hand-written backoff looks like -> why it is one
SHAPES = {
    re.compile(r"\brandom\.uniform\("): "jitter drawn by hand",
    re.compile(r"uniform\([^)]*\bmin\("): "a capped jittered wait drawn by hand",
    re.compile(r"\*\*\s*[\w(.,\s]*\battempts?\b"): "a power of the attempt count",
    re.compile(r"sleep\([^)]*\battempts?\b"): "a wait computed from the attempt count",
    re.compile(r"\b\w*delay\w*\s*(\*=|=\s*min\(\s*\w*delay\w*\s*\*)"): "a delay doubled by hand",
    re.compile(r"\bdef \w*backoff\w*\("): "a backoff function of its own",
}


def hand_written_backoff(line: str) -> str | None:
    for shape, why in SHAPES.items():
        if shape.search(line):
            return why
    return None


@pytest.mark.parametrize(
    "line",
    [  # the seven formulas this check replaced, as they were written
        "cap = min(self._cfg.publish.backoff_max, 1.5 ** min(10, attempt))",
        "self.config.poll_interval * random.uniform(0.5, 1.5 ** min(10, attempt)),",
        "delay = random.uniform(0.5, min(self._backoff_max, 0.5 * 1.5**attempt))",
        "d = min(cap, base * 2 ** max(0, attempts - 1))",
        "delay = random.uniform(0, min(self._alerts.mqtt_reconnect_max, 1.5**attempt))",
        "min(self.backoff_max, 0.1 * rng.uniform(1, 2 ** min(attempt, 8)))",
        "delay = min(delay * 2, 60.0)",
        "await asyncio.sleep(min(30.0, 2.0 * attempt))",
        "await asyncio.sleep(0.05 * (attempt + 1))",
        "def backoff_delay(",
        "wait = rng.uniform(0, min(cap, base * 2**n))",
    ],
)
def test_the_check_sees_a_hand_written_backoff(line: str) -> None:
    assert hand_written_backoff(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "drawn = meters.uniform(-sc.meter_error_max, sc.meter_error_max)",
        "height = 2800.0 * (vol / cap) ** 0.9",
        "flow=rng.uniform(*FLOW_LPM) / 60,",
        "await asyncio.sleep(self._interval)",
        "await backoff.wait()",
        "delay = policy.delay(d.attempts - 1)",
        "if policy.exhausted(d.attempts, age):",
    ],
)
def test_the_check_lets_ordinary_code_be(line: str) -> None:
    assert hand_written_backoff(line) is None


def test_no_module_but_the_policy_writes_its_own_backoff() -> None:
    found = []
    files = [path for _, path in module_files()] + sorted((ROOT / "bench").rglob("*.py"))
    for path in files:
        if path == POLICY:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            why = hand_written_backoff(line)
            if why is not None:
                found.append(f"{path.relative_to(ROOT)}:{number}: {why}: {line.strip()}")
    assert not found, "use fuelwatch.core.retry instead:\n" + "\n".join(found)
