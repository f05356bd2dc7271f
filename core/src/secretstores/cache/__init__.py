"""The secret cache: one interface in front of a memory tier and a shared disk tier.

The runtime and the renderer use :class:`SecretCache` only: its scopes, its
lookups, its stores and invalidations, and the warm path's getter. Behind it
sit the memory tier (this process, bounded) and the disk tier (every process of
the user, encrypted); a third tier shared by a fleet of hosts would sit beside
the disk tier, behind the same methods, without the renderer knowing.

**Whose value.** Entries are kept under a *scope*: a keyed hash of the store's
type, its configuration and its identity (what its provider's
``secretstores_identity`` hook says decides the principal). A store configured
with other credentials, or reading with another identity, never sees them.
Process-local stores (``env``) keep their values in memory only.

**How fresh.** Each entry carries the time it was fetched and any lease; every
store judges it against its own TTL when reading. "Not found" is cached for
``negativeCacheTtl`` (or, with 0, drops the old value); a refusal drops it too.
Each invalidation advances the scope's generation, on disk and then in memory,
and a fetch that began under an older one caches nothing; a read that found a
value on disk keeps it in memory only if no invalidation came in between.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from secretstores import forks
from secretstores.cache.disk import CACHE_KEY_VARIABLE, DiskTier
from secretstores.cache.entry import DEFAULT_REFRESH_AHEAD, CachePolicy, Entry, Freshness
from secretstores.cache.memory import MemoryTier
from secretstores.paths import cache_dir, cache_location, data_dir

__all__ = [
    "CACHE_KEY_VARIABLE",
    "DEFAULT_REFRESH_AHEAD",
    "CachePolicy",
    "Entry",
    "Freshness",
    "Generation",
    "Lookup",
    "SecretCache",
]

#: Entries the memory tier keeps at most, unless ``cache.memoryEntries`` says otherwise.
DEFAULT_MEMORY_ENTRIES = 10_000
#: Seconds between flushes of this process's hit counters to the disk tier.
COUNTS_FLUSH_INTERVAL = 30.0


@attrs.frozen
class Lookup:
    """A cached answer for one identifier: the entry, where it was, how fresh it is."""

    entry: Entry
    source: str  # "memory" or "disk"
    freshness: Freshness


@attrs.frozen
class Generation:
    """A scope's generation when a fetch began: in this process and on disk."""

    local: tuple[int, int]
    disk: tuple[str, int] | None


class SecretCache:
    """Encrypted two-tier TTL cache of secret values, kept per store scope and identifier.

    :param directory: the disk tier's directory (default: :func:`paths.cache_dir`).
    :param key_file: the key file (default: ``<data dir>/keys/cache.key``).
    :param enabled: False turns the cache off entirely (nothing read or written).
    :param memory_entries: how many entries the memory tier keeps at most.
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        key_file: str | Path | None = None,
        enabled: bool = True,
        memory_entries: int = DEFAULT_MEMORY_ENTRIES,
    ) -> None:
        self.enabled = enabled
        self.directory = cache_location(Path(directory)) if directory else cache_dir()
        key_path = Path(key_file) if key_file else data_dir() / "keys" / "cache.key"
        self._disk = DiskTier(self.directory, key_path)
        self._memory = MemoryTier(memory_entries)
        # Advanced by every invalidation, per scope and all at once.
        self._generations: dict[str, int] = {}
        self._epoch = 0
        self._counts: Counter[str] = Counter()
        self._memory_hits = 0  # counted by the warm paths (see count_memory_hits)
        self._memory_hits_flushed = 0
        self._flushed = time.monotonic()
        self._lock = threading.Lock()
        # Taken by every write to the memory tier and by invalidations (see lookup).
        self._fill = threading.Lock()
        # A disabled cache's scopes, with what they hash: a write must still reach the
        # disk tier other processes read (see invalidate).
        self._parts: dict[str, tuple[str, ...]] = {}
        forks.register(self)

    def __repr__(self) -> str:
        return f"SecretCache(directory={str(self.directory)!r}, enabled={self.enabled})"

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._fill = threading.Lock()
        self._counts = Counter()  # the parent's, flushed by the parent
        self._memory_hits_flushed = self._memory_hits
        self._memory._lock = threading.Lock()
        self._disk._after_fork()

    # -- scopes and keys ----------------------------------------------------------

    def scope(self, *parts: str, shared: bool = True) -> str:
        """The scope of a store's entries: a keyed hash of ``parts`` (type, configuration,
        identity). Process-local scopes (``shared=False``) never reach the disk tier."""
        if not self.enabled or not shared:
            scope = "p" + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:31]
            if shared:
                self._parts[scope] = parts
            return scope
        return self._disk.scope(*parts)

    @staticmethod
    def _shared(scope: str) -> bool:
        return not scope.startswith("p")

    @property
    def getter(self) -> Callable[[Any], tuple[Any, ...] | None]:
        """The warm path's lookup into the memory tier: ``getter(key)`` is an item whose
        first field is a monotonic time and second the value, served while the time
        lies ahead (see :mod:`secretstores.cache.memory`)."""
        return self._memory.getter

    def memory_scope(self, scope: str, policy: CachePolicy) -> str | None:
        """The first half of a store's memory keys (compute it once per store); None when
        the store keeps nothing in memory."""
        if not self.enabled or policy.ttl <= 0:
            return None
        return f"{scope}|{policy.key}"

    def memory_key(self, scope: str, policy: CachePolicy, identifier: str
                   ) -> tuple[str, str] | None:
        """The warm path's key of one identifier for one store; None when it caches nothing."""
        memory_scope = self.memory_scope(scope, policy)
        return (memory_scope, identifier) if memory_scope is not None else None

    def _local(self, scope: str) -> tuple[int, int]:
        return self._epoch, self._generations.get(scope, 0)

    def generation(self, scope: str, policy: CachePolicy) -> Generation:
        """The scope's generation now (read when a fetch begins); its ``disk`` half is
        None when the disk tier cannot tell (busy): then nothing goes to disk."""
        local = self._local(scope)
        shared = self.enabled and policy.ttl > 0 and policy.shared and self._shared(scope)
        return Generation(local, self._disk.generation(scope) if shared else None)

    # -- reading --------------------------------------------------------------------

    def lookup(self, scope: str, policy: CachePolicy, identifiers: Iterable[str],
               ) -> dict[str, Lookup]:
        """The usable cached answers for ``identifiers``: the memory tier first, then one
        read of the disk tier for the rest and for what memory holds only stale (disk
        hits are kept in memory, unless the scope was invalidated meanwhile)."""
        if not self.enabled or policy.ttl <= 0:
            return {}
        now = time.time()
        local = self._local(scope)  # before the disk read: see _fill_memory
        found: dict[str, Lookup] = {}
        missing: list[str] = []
        for identifier in identifiers:
            key = self.memory_key(scope, policy, identifier)
            item = self._memory.get(key) if key is not None else None
            freshness = item[2].freshness(policy, now) if item is not None else None
            if item is not None and freshness is not None:
                found[identifier] = Lookup(item[2], "memory", freshness)
                if freshness is not Freshness.STALE:
                    continue
            missing.append(identifier)  # (a stale one: another process may have a newer)
        if missing and policy.shared and self._shared(scope):
            fill: dict[str, Entry] = {}
            for identifier, entry in self._disk.read(scope, missing).items():
                freshness = entry.freshness(policy, now)
                held = found.get(identifier)
                if freshness is None or (held is not None
                                         and held.entry.fetched_at >= entry.fetched_at):
                    continue
                found[identifier] = Lookup(entry, "disk", freshness)
                if freshness is not Freshness.STALE:
                    fill[identifier] = entry
            if fill:
                self._fill_memory(scope, policy, fill, local)
        return found

    def _fill_memory(self, scope: str, policy: CachePolicy, entries: Mapping[str, Entry],
                     local: tuple[int, int]) -> bool:
        """Keep ``entries`` in memory unless the scope was invalidated since ``local``
        was read: they may have been read on disk before an invalidation of this process
        (which takes the same lock, after the disk, to advance the generation)."""
        with self._fill:
            if self._local(scope) != local:
                return False
            for identifier, entry in entries.items():
                key = self.memory_key(scope, policy, identifier)
                if key is not None:
                    self._memory.put(key, entry, policy)
        return True

    def refreshing(self, scope: str, policy: CachePolicy, identifiers: Iterable[str],
                   seconds: float) -> dict[str, Entry]:
        """The values of ``identifiers`` are being refreshed (for ``seconds`` at most):
        serve them on the warm path meanwhile, within their TTL and stale window, instead
        of asking again on every read. Return the entries held, for :meth:`refreshed`."""
        held: dict[str, Entry] = {}
        with self._fill:
            for identifier in identifiers:
                key = self.memory_key(scope, policy, identifier)
                entry = self._memory.hold(key, seconds) if key is not None else None
                if entry is not None:
                    held[identifier] = entry
        return held

    def refreshed(self, scope: str, policy: CachePolicy, held: Mapping[str, Entry],
                  serve: Mapping[str, float] | None = None) -> None:
        """A refresh ended: each identifier whose memory item still holds the entry held
        when it began (nothing replaced it: the store failed, or its answer could not
        be cached) is served on the warm path ``serve[identifier]`` seconds more at
        most (none by default), and never past its TTL."""
        serve = serve or {}
        with self._fill:
            for identifier, entry in held.items():
                key = self.memory_key(scope, policy, identifier)
                if key is not None:
                    self._memory.settle(key, entry, serve.get(identifier, 0.0))

    def newer(self, scope: str, policy: CachePolicy, held: Mapping[str, Entry]) -> set[str]:
        """Which of the ``held`` entries another fetch has replaced: in memory (this
        process), or on disk by an entry fetched later (another process; it is then kept
        in memory)."""
        landed: set[str] = set()
        for identifier, entry in held.items():
            key = self.memory_key(scope, policy, identifier)
            item = self._memory.get(key) if key is not None else None
            if item is None or item[2] is not entry:
                landed.add(identifier)
        rest = [i for i in held if i not in landed]
        if not rest or not self.enabled or not policy.shared or not self._shared(scope):
            return landed
        now, local = time.time(), self._local(scope)
        fill = {i: e for i, e in self._disk.read(scope, rest).items()
                if e.fetched_at > held[i].fetched_at
                and e.freshness(policy, now) not in (None, Freshness.STALE)}
        if fill and self._fill_memory(scope, policy, fill, local):
            landed.update(fill)
        return landed

    # -- writing --------------------------------------------------------------------

    def store(self, scope: str, policy: CachePolicy, entries: Mapping[str, Entry],
              generation: Generation | None = None, unlock: Iterable[str] = (),
              forget: Iterable[str] = ()) -> bool:
        """Cache ``entries`` (in one disk transaction), unless the scope was invalidated
        since ``generation``: then they may predate a write, and nothing is cached. In
        the same transaction, the fetch locks of ``unlock`` are given back, and the
        cached answers of ``forget`` (refused now) go, as do those of "not found"
        entries when "not found" is not cached.

        A ``generation`` whose disk half is unknown (the database was busy when the
        fetch began) keeps everything out of the disk tier: the answers may predate a
        write the database saw since (the locks expire by themselves).
        """
        unlock = list(unlock)
        if not self.enabled or policy.ttl <= 0:
            return False
        kept = {i: e for i, e in entries.items()
                if e.value is not None or policy.negative_ttl > 0}
        forget = [*forget, *(i for i in entries if i not in kept)]
        local = generation.local if generation is not None else None
        current = local is None or local == self._local(scope)
        written: bool | None = True
        if policy.shared and self._shared(scope) and (generation is None
                                                       or generation.disk is not None):
            now = time.time()
            sealed = {i: (e, e.stale_until(policy) - now) for i, e in kept.items()} \
                if current else {}
            if sealed or unlock or forget:
                written = self._disk.write(
                    scope, sealed, generation.disk if generation is not None else None,
                    unlock=unlock, forget=forget)
        with self._fill:
            # A refused or missing secret's old value goes; so does, when another process
            # wrote the store since the fetch began, what this process holds of these.
            for identifier in forget if written is not False else [*forget, *kept]:
                key = self.memory_key(scope, policy, identifier)
                if key is not None:
                    self._memory.drop(key)
            if not kept or written is False or (local is not None
                                                and local != self._local(scope)):
                return False  # (written meanwhile, here or in another process)
            for identifier, entry in kept.items():
                key = self.memory_key(scope, policy, identifier)
                if key is not None:
                    self._memory.put(key, entry, policy)
        return True

    def invalidate(self, scope: str | None = None, identifier: str | None = None) -> int:
        """Forget one secret, one scope's secrets, or everything; return entries removed.

        The disk tier first, then this process's generation and memory: a read that
        found the old value on disk meanwhile cannot keep it in memory (see
        :meth:`_fill_memory`). A disabled cache reads and writes no value, but still
        advances the generation and drops the entries on disk, which other processes
        read: a write through it must not leave the old value there.
        """
        if not self.enabled:
            return self._invalidate_disabled(scope, identifier)
        removed = 0
        if scope is None:
            removed = self._disk.invalidate()
            with self._fill:
                self._epoch += 1
                return max(removed, self._memory.clear())
        if self._shared(scope):
            removed = self._disk.invalidate(scope, identifier)
        with self._fill:
            self._generations[scope] = self._generations.get(scope, 0) + 1
            return max(removed, self._memory.drop_scope(scope, identifier))

    def _invalidate_disabled(self, scope: str | None, identifier: str | None) -> int:
        if not self._disk.present():  # no database, or no key: nothing anyone could read
            return 0
        if scope is None:
            return self._disk.invalidate()
        parts = self._parts.get(scope)
        if parts is None:  # process-local: never on disk
            return 0
        return self._disk.invalidate(self._disk.scope(*parts), identifier)

    # -- one fetch per secret across processes ----------------------------------------

    def lock(self, scope: str, policy: CachePolicy, identifiers: Iterable[str],
             seconds: float) -> tuple[set[str], Generation]:
        """Take the cross-process fetch lock of each identifier free, and read the scope's
        generation, in one disk transaction; return the locks taken and the generation."""
        wanted = set(identifiers)
        local = self._local(scope)
        if not self.enabled or not self._shared(scope) or not policy.shared or not wanted:
            return wanted, self.generation(scope, policy)
        taken, disk = self._disk.lock(scope, wanted, seconds)
        return taken, Generation(local, disk)

    def unlock(self, scope: str, identifiers: Iterable[str]) -> None:
        """Give back locks taken with :meth:`lock`."""
        wanted = list(identifiers)
        if self.enabled and self._shared(scope) and wanted:
            self._disk.unlock(scope, wanted)

    # -- counters -------------------------------------------------------------------

    def count(self, counts: Mapping[str, int]) -> None:
        """Add this process's hits by source (``memory``, ``disk``, ``store``, ...)."""
        with self._lock:
            self._counts.update(counts)
            due = time.monotonic() - self._flushed > COUNTS_FLUSH_INTERVAL
        if due:
            self.flush_counts()

    def count_memory_hits(self, n: int = 1) -> None:
        """Count ``n`` answers the warm path served from the memory tier.

        Cheap enough for the warm path: an integer addition, no lock (two threads
        adding at once may lose one count: these are statistics). Flushed to disk
        with the other counters.
        """
        self._memory_hits += n

    def flush_counts(self) -> None:
        """Add this process's counters to the shared ones on disk."""
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
            hits = self._memory_hits
            if hits != self._memory_hits_flushed:
                counts["memory"] = counts.get("memory", 0) + hits - self._memory_hits_flushed
                self._memory_hits_flushed = hits
            self._flushed = time.monotonic()
        if self.enabled and counts:
            self._disk.add_counts(counts)

    def stats(self) -> dict[str, int]:
        """Shared counters (this process's included), entries, locks and bytes on disk,
        and the entries of this process's memory tier."""
        self.flush_counts()
        found = self._disk.inventory() if self.enabled else {}
        found["memory_entries"] = len(self._memory)
        return found

    def close(self) -> None:
        """Flush the counters and close the disk tier's handles."""
        self.flush_counts()
        self._disk.close()
