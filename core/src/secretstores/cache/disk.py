"""The disk tier: encrypted entries shared by every process of the user.

A :mod:`diskcache` directory (mode 0700). Every entry is AES-GCM encrypted with
a key kept outside the cache directory, its slot (a keyed hash of the store's
scope and the identifier) as associated data: an entry moved to another slot,
altered (its fetch time and lease included), or made with another key is a
miss. Besides entries the directory holds, per scope, a generation number that
every invalidation advances (a fetch that began under an older one caches
nothing), short-lived locks that let one process fetch a secret while others
wait for its answer, and hit counters.

Damage is a miss, never a crash: a database that is not one any more (overwritten,
malformed) is moved aside (``<directory>.damaged-<time>``) and rebuilt, with one
warning; any other failure (no space, read-only, I/O error) makes that operation a
miss or a no-op. A database another process holds locked for more than
:data:`TIMEOUT` seconds, opening it included, makes a read a miss and a write a
no-op, and the tier is left alone for :data:`BUSY_PAUSE` seconds (invalidations
still try), so a busy database costs a render about one :data:`TIMEOUT`, however
many stores it reads.

Every operation of the process on the database takes one lock, which a fork
waits for (:class:`~secretstores.forks.ForkLock`): a child never starts with an
SQLite transaction of its parent halfway through, whose locks it would inherit
and never see released.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets as _random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from secretstores import forks
from secretstores.cache.entry import Entry
from secretstores.crypto import Cipher, DecryptionError, WeakKeyError, load_key
from secretstores.paths import private_dir

logger = logging.getLogger("secretstores.cache")

T = TypeVar("T")

#: The environment variable that holds the cache key (else a 0600 key file is used).
CACHE_KEY_VARIABLE = "SECRETSTORES_CACHE_KEY"
#: Seconds to wait for the database when another process holds it locked.
TIMEOUT = 1.0
#: Seconds the disk tier is left alone after the database was found busy.
BUSY_PAUSE = 2.0
#: Seconds a fork waits for a disk operation in progress in another thread.
FORK_WAIT = 5.0
#: Seconds between two warnings about the same kind of failure.
WARNING_INTERVAL = 30.0

#: diskcache's settings: no size-based eviction (entries expire; sizing it would cost a
#: size query on every write), a bounded wait for a database another process holds.
_SETTINGS: dict[str, Any] = {"statistics": False, "timeout": TIMEOUT,
                             "eviction_policy": "none"}
#: diskcache's database file in the directory.
_DATABASE = "cache.db"
#: Slot names remembered (computing one is an HMAC).
_SLOT_MEMORY = 50_000

_EPOCH = "epoch"
_VALUE, _GENERATION, _LOCK, _COUNTER = "v:", "g:", "l:", "c:"

#: Held by every operation of this process on a cache database; a fork waits for it.
_GUARD = forks.ForkLock(FORK_WAIT)


class _Refused(Exception):
    """The cache directory cannot be used (why is in the tier's ``_broken``)."""


class _Busy(Exception):
    """The database was locked by another process for too long."""


def _damaged(exc: BaseException) -> bool:
    """Whether an error means the database file is not a usable database any more
    (not: busy, full, read-only, unreachable, which are misses, not damage)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _busy(exc: BaseException) -> bool:
    """Whether an error means another process holds the database for too long."""
    if isinstance(exc, _Busy) or type(exc).__name__ == "Timeout":  # diskcache's Timeout
        return True
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _probe(path: Path) -> None:
    """Raise :class:`_Busy` when another process holds the database for longer than
    :data:`TIMEOUT` (diskcache's own start-up would wait for it up to a minute)."""
    connection = sqlite3.connect(str(path), timeout=TIMEOUT, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if _busy(exc):
            raise _Busy(str(exc)) from None
        raise
    finally:
        connection.close()


class DiskTier:
    """The shared, encrypted tier; every method is a miss or a no-op when it cannot work."""

    def __init__(self, directory: Path, key_file: Path) -> None:
        self.directory = directory
        self._key_file = key_file
        self._cipher: Cipher | None = None
        self._hmac_key = b""
        self._db: Any = None
        self._slots: dict[tuple[str, str], str] = {}
        self._broken: str | None = None  # why this process caches in memory only
        self._paused_until = 0.0  # monotonic: the database was busy, leave it alone
        self._warned: dict[str, float] = {}
        self._owner = self._new_owner()
        self._lock = threading.Lock()

    @staticmethod
    def _new_owner() -> str:
        # What this tier's fetch locks hold: the process and this object (two tiers on
        # one directory in one process behave as two processes do).
        return f"{os.getpid()}.{_random.token_hex(4)}"

    def _after_fork(self) -> None:
        # The parent's SQLite connections must not be used here: open new ones.
        self._lock = threading.Lock()
        self._db = None
        self._owner = self._new_owner()
        if not _GUARD.clean:  # forked while another thread was inside the database
            self._broken = ("this process was forked while another of its threads used the "
                            "cache database; it caches in memory only")

    # -- keys and the database ----------------------------------------------

    def _keys(self) -> tuple[Cipher, bytes]:
        if self._cipher is None:
            with self._lock:
                if self._cipher is None:
                    try:
                        key = load_key(CACHE_KEY_VARIABLE, self._key_file, "cache")
                    except OSError as exc:  # a key file that cannot be read or made
                        key = _random.token_bytes(32)
                        self._broken = (f"the cache key file {self._key_file} cannot be "
                                        f"used ({exc.strerror or type(exc).__name__}); this "
                                        "process caches in memory only")
                    except WeakKeyError as exc:
                        # Refused: a key of this process's own, so nothing reaches the
                        # disk and nothing of it is shared.
                        key = _random.token_bytes(32)
                        self._broken = f"{exc}; this process caches in memory only"
                    self._hmac_key = hashlib.sha256(b"slots" + key).digest()
                    self._cipher = Cipher(key)
        return self._cipher, self._hmac_key

    def present(self) -> bool:
        """Whether a database and a key exist (without creating either)."""
        return (self.directory / _DATABASE).exists() and (
            bool(os.environ.get(CACHE_KEY_VARIABLE)) or self._key_file.exists())

    def _open(self) -> Any:
        if self._db is None:
            self._db = self._connect()
        return self._db

    def _connect(self) -> Any:
        import diskcache

        private_dir(self.directory)
        info = self.directory.stat()
        if info.st_mode & 0o077 or info.st_uid != os.getuid():
            self._broken = (f"the cache directory {self.directory} is open to other users "
                            "and is not secretstores' to change; this process caches in "
                            "memory only (name a private directory in cache.directory)")
            raise _Refused(self._broken)
        database = self.directory / _DATABASE
        if database.exists():
            _probe(database)
        db = diskcache.Cache(str(self.directory), **_SETTINGS)
        try:
            db.add(_EPOCH, _random.token_hex(8))
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        aside = self.directory.with_name(
            f"{self.directory.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        os.rename(self.directory, aside)
        return aside

    def _run(self, operation: Callable[[Any], T], default: T, *, essential: bool = False) -> T:
        """``operation(db)`` under the process's database lock; on damage, move the
        database aside and try once more on a new one; on a busy database or anything
        else, ``default``. While the database is found busy, ``default`` at once
        (unless ``essential``: invalidations always try)."""
        if self._broken is not None:
            self._warn("broken", self._broken)
            return default
        if not essential and time.monotonic() < self._paused_until:
            return default
        if not _GUARD.acquire(TIMEOUT * (3 if essential else 1)):
            return default  # another thread waits for a busy database already
        problems: list[tuple[str, str]] = []
        try:
            if not essential and time.monotonic() < self._paused_until:
                return default  # found busy while this thread waited for the lock
            for attempt in (1, 2):
                try:
                    return operation(self._open())
                except Exception as exc:
                    if isinstance(exc, _Refused):
                        problems.append(("broken", str(exc)))
                        break
                    if _busy(exc):
                        self._paused_until = time.monotonic() + BUSY_PAUSE
                        problems.append(("busy", "the cache database is busy (held by another "
                                         f"process); going on without it for {BUSY_PAUSE:g} s"))
                        break
                    if not _damaged(exc) or attempt == 2:
                        problems.append(("failed", "the cache database failed "
                                         f"({type(exc).__name__}); going on without it for "
                                         "this operation"))
                        break
                    moved = self._rebuild(exc)
                    problems.append(("moved", moved) if moved is not None
                                    else ("broken", str(self._broken)))
                    if moved is None:
                        break
        finally:
            _GUARD.release()
            for kind, message in problems:  # logged outside the lock a fork waits for
                self._warn(kind, message)
        return default

    def _rebuild(self, exc: BaseException) -> str | None:
        """Move the damaged database aside (the next attempt starts a new one); return
        what to say, or None when it could not be moved (the tier is then broken)."""
        try:
            if self._db is not None:
                self._db.close()
            self._db = None
            aside = self._move_aside()
        except OSError:
            self._broken = (f"the damaged cache database in {self.directory} cannot be moved "
                            "aside; this process caches in memory only")
            return None
        return (f"the cache database in {self.directory} could not be read "
                f"({type(exc).__name__}); it was moved to {aside} and a new one was started")

    def _warn(self, kind: str, message: str) -> None:
        """Log a warning; the same kind at most once per :data:`WARNING_INTERVAL` (a move
        aside always, a busy database at most once per :data:`BUSY_PAUSE` anyway)."""
        now = time.monotonic()
        last = self._warned.get(kind)
        if kind in ("moved", "busy") or last is None or now - last >= WARNING_INTERVAL:
            self._warned[kind] = now
            logger.warning("%s", message)

    # -- slots ------------------------------------------------------------------

    def scope(self, *parts: str) -> str:
        """A keyed fingerprint of a store's backend and identity."""
        _, key = self._keys()
        return hmac.new(key, "\0".join(parts).encode(), "sha256").hexdigest()[:32]

    def _slot(self, scope: str, identifier: str) -> str:
        slot = self._slots.get((scope, identifier))
        if slot is None:
            _, key = self._keys()
            digest = hmac.new(key, identifier.encode(), "sha256").hexdigest()[:32]
            slot = f"{_VALUE}{scope}:{digest}"
            if len(self._slots) >= _SLOT_MEMORY:
                self._slots.clear()
            self._slots[(scope, identifier)] = slot
        return slot

    def _lock_key(self, scope: str, identifier: str) -> str:
        return _LOCK + self._slot(scope, identifier)[len(_VALUE):]

    # -- entries ------------------------------------------------------------------

    def read(self, scope: str, identifiers: Iterable[str]) -> dict[str, Entry]:
        """The entries found for ``identifiers`` (corrupt or tampered ones are dropped)."""
        cipher, _ = self._keys()
        wanted = {self._slot(scope, i): i for i in identifiers}
        discarded: list[str] = []

        def read(db: Any) -> dict[str, Entry]:
            found: dict[str, Entry] = {}
            for slot, identifier in wanted.items():
                blob = db.get(slot, default=None)
                if blob is None:
                    continue
                try:
                    if not isinstance(blob, bytes):
                        raise DecryptionError("not a ciphertext")
                    found[identifier] = Entry.from_bytes(cipher.decrypt(blob, slot.encode()))
                except (DecryptionError, ValueError):
                    discarded.append(slot)
                    db.delete(slot)
            return found

        found: dict[str, Entry] = self._run(read, {})
        for _ in discarded:  # logged outside the lock a fork waits for
            logger.warning("a cache entry failed its integrity check; discarded")
        return found

    def write(self, scope: str, entries: Mapping[str, tuple[Entry, float]],
              generation: tuple[str, int] | None, unlock: Iterable[str] = (),
              forget: Iterable[str] = ()) -> bool | None:
        """In one transaction: give back the locks of ``unlock`` and delete the entries of
        ``forget`` (always), then store ``entries`` (each with how long to keep it, in
        seconds) unless ``generation`` (read when the fetch began) is no longer current.

        :return: True when written, False when the generation changed, None when the
            database could not be used (busy, damaged).
        """
        cipher, _ = self._keys()
        sealed = []
        for identifier, (entry, keep) in entries.items():
            slot = self._slot(scope, identifier)
            sealed.append((slot, cipher.encrypt(entry.to_bytes(), slot.encode()), keep))
        locks = [self._lock_key(scope, i) for i in unlock]
        gone = [self._slot(scope, i) for i in forget]

        def write(db: Any) -> bool:
            with db.transact():
                self._release(db, locks)
                for slot in gone:
                    db.delete(slot)
                if sealed and generation is not None \
                        and generation != self._generation(db, scope):
                    return False  # written meanwhile: these answers may predate it
                for slot, blob, keep in sealed:
                    db.set(slot, blob, expire=max(keep, 0.001), tag=scope)
            return True

        written: bool | None = self._run(write, None)
        return written

    def _generation(self, db: Any, scope: str) -> tuple[str, int]:
        value = db.get(_GENERATION + scope, default=0)
        if type(value) is not int:  # a damaged counter: start again under a new epoch
            self._repair_generation(db, scope)
            value = 0
        return str(db.get(_EPOCH, default="")), value

    @staticmethod
    def _repair_generation(db: Any, scope: str) -> None:
        # A new epoch changes every generation at once, so no reader or writer that saw
        # an earlier one can mistake the restarted counter for it.
        db.set(_EPOCH, _random.token_hex(8))
        db.set(_GENERATION + scope, 0)

    def _advance(self, db: Any, scope: str) -> None:
        try:
            db.incr(_GENERATION + scope, 1, default=0)
        except (TypeError, ValueError):  # a damaged counter
            self._repair_generation(db, scope)

    def generation(self, scope: str) -> tuple[str, int] | None:
        """The scope's generation (changes whenever its entries are invalidated); None
        when the database cannot tell now (busy, damaged)."""
        return self._run(lambda db: self._generation(db, scope), None)

    def invalidate(self, scope: str | None = None, identifier: str | None = None) -> int:
        """Forget one entry, a scope's, or everything; advance the generations."""

        def invalidate(db: Any) -> int:
            if scope is None:
                removed = sum(1 for key in db.iterkeys() if str(key).startswith(_VALUE))
                db.clear()
                db.set(_EPOCH, _random.token_hex(8))
                return removed
            with db.transact():
                self._advance(db, scope)
                if identifier is not None:
                    return 1 if db.delete(self._slot(scope, identifier)) else 0
                return int(db.evict(scope))

        removed = self._run(invalidate, None, essential=True)
        if removed is None:
            logger.warning("the cache database could not be invalidated; other processes may "
                           "serve its entries until their TTL ends")
            return 0
        return removed

    # -- locks between processes -----------------------------------------------------

    def lock(self, scope: str, identifiers: Iterable[str], seconds: float
             ) -> tuple[set[str], tuple[str, int] | None]:
        """Take the fetch lock of each identifier no other process holds, and read the
        scope's generation, in one transaction; return the locks taken and the generation
        (None, with every lock "taken", when the database cannot be used now).

        A lock ends by itself after ``seconds`` (its holder may have died); one this
        tier left behind (its write failed) is taken again.
        """
        token = f"{self._owner}:{threading.get_ident()}"
        mine = self._owner + ":"
        keys = {self._lock_key(scope, i): i for i in identifiers}

        def lock(db: Any) -> tuple[set[str], tuple[str, int] | None]:
            taken: set[str] = set()
            with db.transact():
                for key, identifier in keys.items():
                    if db.add(key, token, expire=seconds):
                        taken.add(identifier)
                    elif str(db.get(key, default="")).startswith(mine):
                        db.set(key, token, expire=seconds)
                        taken.add(identifier)
                return taken, self._generation(db, scope)

        fallback: tuple[set[str], tuple[str, int] | None] = (set(keys.values()), None)
        return self._run(lock, fallback)

    def _release(self, db: Any, keys: Iterable[str]) -> None:
        """Delete the locks of ``keys`` this tier holds (not another process's)."""
        mine = self._owner + ":"
        for key in keys:
            if str(db.get(key, default="")).startswith(mine):
                db.delete(key)

    def unlock(self, scope: str, identifiers: Iterable[str]) -> None:
        """Give back locks taken with :meth:`lock`."""
        keys = [self._lock_key(scope, i) for i in identifiers]

        def unlock(db: Any) -> None:
            with db.transact():
                self._release(db, keys)

        self._run(unlock, None)

    # -- counters and inventory ------------------------------------------------------

    def add_counts(self, counts: Mapping[str, int]) -> None:
        """Add to the hit counters every process shares."""

        def add(db: Any) -> None:
            with db.transact():
                for name, count in counts.items():
                    if count:
                        db.incr(_COUNTER + name, count, default=0)

        self._run(add, None)

    def inventory(self) -> dict[str, int]:
        """Counters, entries and locks in force (not the expired ones diskcache has not
        deleted yet), and bytes on disk."""
        missing = object()

        def inventory(db: Any) -> dict[str, int]:
            found = {"entries": 0, "locks": 0}
            for key in db.iterkeys():
                key = str(key)
                if key.startswith(_COUNTER):
                    found[key.removeprefix(_COUNTER)] = int(db.get(key, default=0))
                    continue
                kind = "entries" if key.startswith(_VALUE) else \
                    "locks" if key.startswith(_LOCK) else None
                if kind is not None and db.get(key, default=missing) is not missing:
                    found[kind] += 1  # (diskcache's get misses an expired key)
            found["bytes"] = int(db.volume())
            return found

        return self._run(inventory, {})

    def close(self) -> None:
        """Close the database's handles."""
        if self._db is not None and _GUARD.acquire(FORK_WAIT):
            try:
                self._db.close()
            finally:
                _GUARD.release()
