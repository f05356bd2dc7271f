"""The memory tier: this process's own copy of recent entries, bounded in size.

Each item is a tuple built for the warm path, which reads only its first two
fields: ``(fast_until, value, entry, fresh_until, stale_until)``, times on the
monotonic clock. While ``fast_until`` lies ahead, ``value`` is served without
another look (``fast_until`` is 0 for "not found" entries, which take the slow
path). Keys are ``(scope + "|" + policy key, identifier)``, so stores with
different TTLs over one backend never share a memory entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from secretstores.cache.entry import CachePolicy, Entry

#: An item of the memory tier (see the module's docstring).
Item = tuple[float, str | None, Entry, float, float]


class MemoryTier:
    """A dict of items with a size bound: expired items go first, then the oldest."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._items: dict[Hashable, Item] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def getter(self) -> Callable[[Any], Item | None]:
        """The warm path's lookup: the dict's own ``get`` (no wrapper, no lock)."""
        return self._items.get

    def get(self, key: Hashable) -> Item | None:
        """The item under ``key``, if any."""
        return self._items.get(key)

    def put(self, key: Hashable, entry: Entry, policy: CachePolicy) -> None:
        """Keep ``entry`` for ``policy`` (times converted to the monotonic clock)."""
        now_wall, now_mono = time.time(), time.monotonic()
        offset = now_mono - now_wall
        fast = entry.refresh_at(policy) + offset if entry.value is not None else 0.0
        item = (fast, entry.value, entry, entry.fresh_until(policy) + offset,
                entry.stale_until(policy) + offset)
        self._items[key] = item
        if len(self._items) > self.max_entries:
            self._evict(now_mono)

    def _evict(self, now: float) -> None:
        with self._lock:
            items = self._items
            for key in [k for k, item in list(items.items()) if item[4] <= now]:
                items.pop(key, None)
            excess = len(items) - int(self.max_entries * 0.9)
            for key in list(items)[:max(0, excess)]:  # the oldest inserted first
                items.pop(key, None)

    def hold(self, key: Hashable, seconds: float) -> Entry | None:
        """Serve an item on the warm path for ``seconds`` more (while it is refreshed),
        never past its stale window; return the entry held (None: no value there)."""
        item = self._items.get(key)
        if item is None or item[1] is None:
            return None
        until = min(time.monotonic() + seconds, max(item[3], item[4]))
        self._items[key] = (until, item[1], item[2], item[3], item[4])
        return item[2]

    def settle(self, key: Hashable, entry: Entry, seconds: float) -> None:
        """A refresh of ``entry`` ended without replacing it: if the item still holds it,
        serve it on the warm path for ``seconds`` more at most (0: not at all, the next
        read takes the slow path), and never past its TTL."""
        item = self._items.get(key)
        if item is not None and item[2] is entry:
            until = min(time.monotonic() + seconds, item[3]) if seconds > 0 else 0.0
            self._items[key] = (until, item[1], item[2], item[3], item[4])

    def drop(self, key: Hashable) -> bool:
        """Forget one item; True if there was one."""
        return self._items.pop(key, None) is not None

    def drop_scope(self, scope: str, identifier: str | None = None) -> int:
        """Forget every item of ``scope`` (under any policy), or one identifier's."""
        prefix = scope + "|"
        keys = [k for k in list(self._items)
                if isinstance(k, tuple) and k[0].startswith(prefix)
                and (identifier is None or k[1] == identifier)]
        for key in keys:
            self._items.pop(key, None)
        return len(keys)

    def clear(self) -> int:
        """Forget everything (in place: the warm path holds the dict's ``get``)."""
        count = len(self._items)
        self._items.clear()
        return count
