"""Retries with jittered exponential backoff, bounded in count and in time.

A provider makes one attempt per hook call and says when a failure is worth
another (:class:`~secretstores.errors.TransientError`,
:meth:`FetchResult.transient <secretstores.model.FetchResult.transient>`, their
throttled variants with a ``retry_after``). The core decides how often and how
long to wait, the same way for every store: before retry *n* it sleeps a
random time between 0 and ``min(cap, base * 2**(n-1))`` ("full jitter"), at
least the delay the store asked for, and never past the operation's deadline.
"""

from __future__ import annotations

import random
import time

import attrs


@attrs.frozen
class Deadline:
    """The moment an operation must be over, on the monotonic clock."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        """Seconds left (0 when past)."""
        return max(0.0, self.at - time.monotonic())


@attrs.frozen
class RetryPolicy:
    """How many retries, and how long to wait before each.

    :param retries: retries after the first attempt (0: none).
    :param base: the first retry's upper bound of the random delay, in seconds.
    :param cap: the largest upper bound, in seconds.
    """

    retries: int = 3
    base: float = 0.1
    cap: float = 2.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first)."""
        jittered = random.uniform(0, min(self.cap, self.base * 2 ** (retry - 1)))
        return max(jittered, retry_after or 0.0)

    def wait(self, retry: int, deadline: Deadline, retry_after: float | None = None) -> bool:
        """Sleep before retry ``retry``; False (without sleeping) when it is not allowed.

        Not allowed: past the retry count, or the wait would end past the deadline
        (the caller then reports the last failure at once instead of sleeping in vain).
        """
        if retry > self.retries:
            return False
        pause = self.delay(retry, retry_after)
        if pause >= deadline.remaining():
            return False
        time.sleep(pause)
        return True
