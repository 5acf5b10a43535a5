"""The one retry policy (``fuelwatch.core.retry``) on tables, with an injected random source,
clock and sleep: ceilings, the cap, the jitter range, reset, limits, ``retrying``."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from fuelwatch.core.retry import Backoff, BoundedRetrySettings, RetrySettings, retrying

TOP = 1.0 - 2**-53  # the largest number random.random() returns


def const(u: float) -> Callable[[], float]:
    return lambda: u


@pytest.mark.parametrize(
    ("settings", "ceilings"),
    [
        (RetrySettings(base=1, factor=2, cap=30), [1, 2, 4, 8, 16, 30, 30, 30]),
        (RetrySettings(base=1.5, factor=1.5, cap=30), [1.5, 2.25, 3.375, 5.0625]),
        (RetrySettings(base=0.5, factor=1, cap=10), [0.5, 0.5, 0.5, 0.5]),
        (RetrySettings(base=5, factor=2, cap=3), [3, 3, 3]),  # cap below base: always the cap
        (RetrySettings(base=0.05, factor=2, cap=0.2), [0.05, 0.1, 0.2, 0.2]),
    ],
)
def test_ceiling_grows_by_factor_up_to_the_cap(
    settings: RetrySettings, ceilings: list[float]
) -> None:
    assert [settings.ceiling(n) for n in range(len(ceilings))] == pytest.approx(ceilings)


@pytest.mark.parametrize("n", [10, 1_000, 10**6, 10**12])
def test_ceiling_of_a_long_outage_is_the_cap_without_overflow(n: int) -> None:
    assert RetrySettings(base=0.001, factor=10, cap=60).ceiling(n) == 60
    assert RetrySettings(base=1, factor=1.0001, cap=60).ceiling(n) <= 60


def test_ceiling_refuses_a_negative_wait_number() -> None:
    with pytest.raises(ValueError, match="wait number"):
        RetrySettings().ceiling(-1)


@pytest.mark.parametrize(
    ("jitter", "u", "expected"),
    [
        (1.0, 0.0, 8.0),  # full jitter: u = 0 waits the whole ceiling ...
        (1.0, 0.5, 4.0),
        (1.0, TOP, 8.0 * 2**-53),  # ... and u -> 1 next to nothing, never zero or below
        (0.5, 0.0, 8.0),  # equal jitter: the upper half of the ceiling
        (0.5, TOP, 4.0),
        (0.0, 0.7, 8.0),  # no jitter: the ceiling
    ],
)
def test_delay_is_the_ceiling_less_the_random_share(
    jitter: float, u: float, expected: float
) -> None:
    settings = RetrySettings(base=1, factor=2, cap=30, jitter=jitter)
    delay = settings.delay(3, const(u))
    assert delay == pytest.approx(expected)
    assert delay > 0


@pytest.mark.parametrize(("jitter", "low"), [(1.0, 0.0), (0.5, 0.5), (0.25, 0.75)])
def test_jitter_spreads_waits_over_the_whole_range(jitter: float, low: float) -> None:
    settings = RetrySettings(base=10, factor=2, cap=10, jitter=jitter)
    delays = [settings.delay(0, random.Random(seed).random) for seed in range(2000)]
    assert all(10 * low < d <= 10 for d in delays)
    width = 10 * (1 - low)
    assert min(delays) < 10 * low + width * 0.01  # reaches the bottom ...
    assert max(delays) > 10 - width * 0.01  # ... and the top of the range
    halves = sum(d < 10 * low + width / 2 for d in delays)
    assert 900 < halves < 1100  # uniform: about as many below the middle as above


def test_backoff_counts_failures_and_reset_starts_over() -> None:
    backoff = Backoff(RetrySettings(base=1, factor=2, cap=5), rng=const(0.0))
    assert [backoff.next_delay() for _ in range(5)] == [1, 2, 4, 5, 5]
    assert backoff.failures == 5
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() == 1


@pytest.mark.parametrize(
    ("settings", "clock_steps", "tries"),
    [
        (BoundedRetrySettings(max_attempts=3), [0, 0, 0, 0, 0], 3),
        (BoundedRetrySettings(max_attempts=1), [0, 0], 1),
        (BoundedRetrySettings(deadline=10), [0, 4, 4, 4, 4], 4),  # 0, 4, 8, then 12 >= 10
        (BoundedRetrySettings(max_attempts=9, deadline=5), [0, 5, 5], 2),
        (RetrySettings(), [100.0] * 20, 20),  # no limits: never exhausted
    ],
)
def test_limits_say_when_to_give_up(
    settings: RetrySettings, clock_steps: list[float], tries: int
) -> None:
    now = [0.0]
    backoff = Backoff(settings, rng=const(0.0), clock=lambda: now[0])
    failed = 0
    for step in clock_steps:
        now[0] += step
        backoff.next_delay()
        failed += 1
        if backoff.exhausted:
            break
    assert failed == tries
    assert backoff.exhausted is isinstance(settings, BoundedRetrySettings)


def test_exhausted_is_a_pure_function_of_attempts_and_age() -> None:
    policy = BoundedRetrySettings(max_attempts=12, deadline=86400)
    assert not policy.exhausted(11, 86399)
    assert policy.exhausted(12, 0)
    assert policy.exhausted(1, 86400)
    assert not RetrySettings().exhausted(10**9, 10**9)


class FakeTime:
    """A clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_retrying_waits_between_failures_and_returns_the_result() -> None:
    t = FakeTime()
    backoff = Backoff(RetrySettings(base=1, factor=2, cap=30), rng=const(0.0), sleep=t.sleep)
    outcomes: list[Exception | str] = [OSError("a"), OSError("b"), OSError("c"), "done"]
    told: list[tuple[str, float]] = []

    async def op() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = await retrying(
        op, backoff=backoff, retry_on=OSError, on_retry=lambda e, d: told.append((str(e), d))
    )
    assert result == "done"
    assert t.slept == [1, 2, 4]
    assert told == [("a", 1), ("b", 2), ("c", 4)]
    assert backoff.failures == 3  # how many tries failed before the one that worked


async def test_retrying_raises_the_last_failure_once_exhausted() -> None:
    t = FakeTime()
    backoff = Backoff(
        BoundedRetrySettings(base=0.05, factor=2, cap=0.4, max_attempts=5),
        rng=const(0.0),
        clock=t.clock,
        sleep=t.sleep,
    )
    calls = 0

    async def op() -> None:
        nonlocal calls
        calls += 1
        raise TimeoutError(f"try {calls}")

    with pytest.raises(TimeoutError, match="try 5"):
        await retrying(op, backoff=backoff, retry_on=(OSError, TimeoutError))
    assert calls == 5
    assert t.slept == pytest.approx([0.05, 0.1, 0.2, 0.4])  # four waits between five tries


async def test_retrying_gives_up_at_the_deadline() -> None:
    t = FakeTime()
    backoff = Backoff(
        BoundedRetrySettings(base=1, factor=2, cap=8, jitter=0, deadline=10),
        clock=t.clock,
        sleep=t.sleep,
    )

    async def op() -> None:
        raise OSError("down")

    with pytest.raises(OSError, match="down"):
        await retrying(op, backoff=backoff, retry_on=OSError)
    assert t.slept == [1, 2, 4, 8]  # the fifth try, 15 s after the first failure, is the last
    assert t.now == 15


async def test_retrying_lets_other_errors_through_at_once() -> None:
    t = FakeTime()
    backoff = Backoff(RetrySettings(), sleep=t.sleep)

    async def op() -> None:
        raise KeyError("a bug, not an outage")

    with pytest.raises(KeyError):
        await retrying(op, backoff=backoff, retry_on=OSError)
    assert t.slept == []


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"base": 0}, "base"),
        ({"cap": -1}, "cap"),
        ({"factor": 0.9}, "factor"),
        ({"jitter": 1.5}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"max_attempts": 3}, "max_attempts"),  # a loop that never gives up has no limits
        ({"ceiling": 3}, "ceiling"),
    ],
)
def test_settings_refuse_nonsense(fields: dict[str, float], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        RetrySettings.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "problem"), [({"max_attempts": 0}, "max_attempts"), ({"deadline": 0}, "deadline")]
)
def test_bounded_settings_refuse_nonsense(fields: dict[str, float], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        BoundedRetrySettings.model_validate(fields)
