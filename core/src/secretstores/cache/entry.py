"""What the cache keeps for one identifier, and how one store judges its freshness."""

from __future__ import annotations

import enum
import json
import math
from typing import Any

import attrs

#: Default fraction of a TTL at its end during which a read refreshes the value ahead.
DEFAULT_REFRESH_AHEAD = 0.25


@attrs.frozen
class CachePolicy:
    """How one store uses the cache: its TTLs, stale window and refresh-ahead.

    :param ttl: seconds a value stays fresh (0: nothing is cached).
    :param negative_ttl: seconds a "not found" stays cached (0: never cached).
    :param stale_if_error: seconds past ``ttl`` a value may still be served while the
        store is unavailable.
    :param refresh_ahead: the fraction of ``ttl`` at its end during which a read
        refreshes the value in the background.
    :param shared: whether values may go to the tier shared by every process of the
        user (False for process-local stores such as ``env``).
    """

    ttl: float
    negative_ttl: float = 0.0
    stale_if_error: float = 0.0
    refresh_ahead: float = DEFAULT_REFRESH_AHEAD
    shared: bool = True

    @property
    def key(self) -> str:
        """What distinguishes this policy's memory entries from another's."""
        return (f"{self.ttl:g}/{self.negative_ttl:g}/{self.stale_if_error:g}/"
                f"{self.refresh_ahead:g}/{int(self.shared)}")


class Freshness(enum.Enum):
    """How a cached entry stands for one store, now."""

    FRESH = "fresh"
    #: fresh, but in the last part of its TTL: served, and refreshed in the background
    REFRESH = "refresh"
    #: past its TTL but within ``staleIfError``: served only while the store is down
    STALE = "stale"


@attrs.frozen
class Entry:
    """One cached answer: a value (``None`` for "not found"), when it was fetched
    (seconds since the epoch), and the lease and version the store gave with it.

    Everything here is inside the encrypted, authenticated blob on disk, so
    changing the fetch time or the lease on disk makes the entry a miss.
    """

    value: str | None
    fetched_at: float
    message: str = ""
    expires_at: float | None = None
    version: str | None = None

    def fresh_until(self, policy: CachePolicy) -> float:
        """When the entry stops being fresh for ``policy`` (seconds since the epoch)."""
        if self.value is None:
            return self.fetched_at + policy.negative_ttl
        end = self.fetched_at + policy.ttl
        return min(end, self.expires_at) if self.expires_at is not None else end

    def refresh_at(self, policy: CachePolicy) -> float:
        """When a read starts refreshing the value ahead of its expiry."""
        fresh = self.fresh_until(policy)
        if self.value is None:
            return fresh
        return fresh - min(policy.ttl * policy.refresh_ahead, fresh - self.fetched_at)

    def stale_until(self, policy: CachePolicy) -> float:
        """When the entry may no longer be served even while the store is down."""
        if self.value is None:
            return self.fresh_until(policy)
        end = self.fresh_until(policy) + policy.stale_if_error
        # a lease that ended is over: never served stale, even when it outlived the TTL
        return min(end, self.expires_at) if self.expires_at is not None else end

    def freshness(self, policy: CachePolicy, now: float) -> Freshness | None:
        """How the entry stands for ``policy`` at ``now``; None when it is of no use."""
        if now < self.refresh_at(policy):
            return Freshness.FRESH
        if now < self.fresh_until(policy):
            return Freshness.FRESH if self.value is None else Freshness.REFRESH
        if now < self.stale_until(policy):
            return Freshness.STALE
        return None

    def to_bytes(self) -> bytes:
        """The plaintext that is encrypted on disk."""
        return json.dumps([self.value, self.fetched_at, self.message, self.expires_at,
                           self.version], separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Entry:
        """Read :meth:`to_bytes`; ValueError when it is not an entry."""
        fields: Any = json.loads(data)
        if not isinstance(fields, list) or len(fields) != 5:
            raise ValueError("not a cache entry")
        value, fetched_at, message, expires_at, version = fields
        if not (value is None or isinstance(value, str)) or not _finite(fetched_at) \
                or not isinstance(message, str) or not (expires_at is None
                                                        or _finite(expires_at)) \
                or not (version is None or isinstance(version, str)):
            raise ValueError("not a cache entry")
        return cls(value, float(fetched_at), message,
                   float(expires_at) if expires_at is not None else None, version)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
