"""The one retry policy: capped exponential backoff with jitter.

Every loop that tries something again after a failure (a broker connection, an InfluxDB write,
a device poll, a webhook delivery, a registry that is not up yet) waits by this policy, set by
a ``RetrySettings`` in its own service's config::

    ceiling(n) = min(cap, base * factor ** n)      n = waits so far since the last success
    delay(n)   = ceiling(n) * (1 - jitter * u)     u uniform in [0, 1)

``jitter = 1`` (the default) is *full jitter*: a wait anywhere in (0, ceiling]. Clients that
lost the same broker at the same moment then come back spread over the whole window instead
of in waves. ``jitter = 0.5`` is *equal jitter*, never sooner than half the ceiling (the
webhook schedule, which receivers are told about in docs/alerts.md); ``0`` waits the ceiling.

Three ways in:

- ``Backoff``: the state of one loop. ``next_delay()`` after each failure, ``reset()`` after a
  success; ``wait()`` sleeps the next delay. The random source, the clock and the sleep are
  injectable, so tests are deterministic and fast.
- ``RetrySettings.delay(n)``: the same numbers as a pure function, for a schedule kept
  elsewhere (a webhook delivery's ``next_attempt_at``, computed from its attempt count).
- ``retrying(operation, ...)``: await an operation until it succeeds or the limits of a
  ``BoundedRetrySettings`` (``max_attempts``, ``deadline``) are reached.

Not for loops that look on a fixed period whether something changed (readiness checks, the
rule engine's clock, ``poll_interval``): those wait a fixed time by design.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "Backoff",
    "BoundedRetrySettings",
    "RetrySettings",
    "Seconds",
    "accept_backoff_max",
    "defaults_from",
    "retrying",
]

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

#: A positive number of seconds.
Seconds = Annotated[float, Field(gt=0)]


class RetrySettings(BaseModel):
    """How a loop that never gives up waits between tries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: Seconds = Field(default=1.0, description="ceiling of the first wait, seconds")
    factor: float = Field(default=2.0, ge=1.0, description="the ceiling grows by this per wait")
    cap: Seconds = Field(default=30.0, description="longest wait, seconds")
    jitter: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="random share of a wait: 1 = full jitter (0, ceiling], 0.5 = equal "
        "jitter (ceiling/2, ceiling], 0 = none",
    )

    def ceiling(self, n: int) -> float:
        """The longest the ``n``-th wait (0-based) may be."""
        if n < 0:
            raise ValueError(f"wait number must be >= 0, not {n}")
        if self.factor == 1.0 or self.base >= self.cap:
            return min(self.base, self.cap)
        # From here on the cap holds; stop before factor ** n overflows a float.
        if n >= math.log(self.cap / self.base, self.factor):
            return self.cap
        return min(self.cap, self.base * self.factor**n)

    def delay(self, n: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds of the ``n``-th wait (0-based); ``rng`` returns a number in [0, 1)."""
        ceiling = self.ceiling(n)
        return ceiling - ceiling * self.jitter * rng()

    def exhausted(self, attempts: int, elapsed: float) -> bool:
        """Whether to give up after ``attempts`` failed tries, ``elapsed`` s after the first."""
        del attempts, elapsed
        return False


class BoundedRetrySettings(RetrySettings):
    """How a loop that gives up at some point waits between tries, and when it gives up."""

    max_attempts: int | None = Field(
        default=None, ge=1, description="tries in all, the first included (None: no limit)"
    )
    deadline: Seconds | None = Field(
        default=None,
        description="no new try once this many seconds have passed since the first failure "
        "(None: no limit)",
    )

    def exhausted(self, attempts: int, elapsed: float) -> bool:
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return True
        return self.deadline is not None and elapsed >= self.deadline


def defaults_from(default: RetrySettings) -> BeforeValidator:
    """Read a partial section over ``default``, the defaults of that one loop.

    A config field ``retry: Annotated[RetrySettings, defaults_from(X)] = X`` given only
    ``{cap: 10}`` keeps X's base and factor, not the class defaults: a YAML section or a
    ``..._RETRY__CAP`` environment variable changes what it names and nothing else.
    """

    def fill(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {**default.model_dump(), **value}
        return value

    return BeforeValidator(fill)


def accept_backoff_max(data: Any, *, where: str) -> Any:
    """Read the old ``backoff_max: S`` (the longest wait) as ``retry: {cap: S}``, and warn.

    Gateway configs and registry rows written before the one policy still load; naming both
    is an error. ``where`` names the section in the warning.
    """
    if not isinstance(data, Mapping) or "backoff_max" not in data:
        return data
    out = dict(data)
    cap = out.pop("backoff_max")
    retry = out.get("retry")
    if isinstance(retry, RetrySettings):
        retry = retry.model_dump(exclude_unset=True)
    elif retry is None:
        retry = {}
    elif not isinstance(retry, Mapping):
        return out  # the malformed retry section is what pydantic reports
    if "cap" in retry:
        raise ValueError("backoff_max is the old name of retry.cap: give only retry.cap")
    LOGGER.warning("%s: backoff_max is deprecated, write retry: {cap: %s} instead", where, cap)
    out["retry"] = {**retry, "cap": cap}
    return out


class Backoff:
    """The waits of one retry loop: ``next_delay()`` after a failure, ``reset()`` on success."""

    def __init__(
        self,
        settings: RetrySettings,
        *,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._rng = rng
        self._clock = clock
        self._sleep = sleep
        self._failures = 0
        self._first_failure: float | None = None

    @property
    def failures(self) -> int:
        """Failed tries since the last ``reset()``."""
        return self._failures

    @property
    def exhausted(self) -> bool:
        """The settings' ``max_attempts`` or ``deadline`` is reached: no more tries."""
        if self._first_failure is None:
            return False
        elapsed = self._clock() - self._first_failure
        return self.settings.exhausted(self._failures, elapsed)

    def next_delay(self) -> float:
        """Count a failure; return how long to wait before the next try."""
        if self._first_failure is None:
            self._first_failure = self._clock()
        self._failures += 1
        return self.settings.delay(self._failures - 1, self._rng)

    async def sleep(self, delay: float) -> None:
        """Sleep ``delay`` seconds with the injected sleep (for a loop that logs the delay)."""
        await self._sleep(delay)

    async def wait(self) -> float:
        """Count a failure and sleep the next delay; return it."""
        delay = self.next_delay()
        await self._sleep(delay)
        return delay

    def reset(self) -> None:
        """A try succeeded: the next failure waits ``base`` at most again."""
        self._failures = 0
        self._first_failure = None


async def retrying(
    operation: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    retry_on: type[Exception] | tuple[type[Exception], ...],
    on_retry: Callable[[Exception, float], None] | None = None,
) -> T:
    """Await ``operation()`` until it returns, waiting by ``backoff`` after each failure.

    Only the exceptions in ``retry_on`` are retried; any other propagates at once. ``on_retry``
    is told each failure and the wait that follows. Once the backoff is exhausted the last
    failure is raised as it is. On return, ``backoff.failures`` is how many tries failed.
    """
    backoff.reset()
    while True:
        try:
            return await operation()
        except retry_on as exc:
            delay = backoff.next_delay()
            if backoff.exhausted:
                raise
            if on_retry is not None:
                on_retry(exc, delay)
            await backoff.sleep(delay)
