"""The secret cache: an in-memory tier in front of an encrypted, shared disk tier.

The disk tier is a :mod:`diskcache` directory (mode 0700) shared by every
process of one user, so a second ``secretstores render`` within the TTL asks
no store. Entries are AES-GCM encrypted with a key kept outside the cache
directory; each entry's slot (its hashed key) is the associated data, so an
entry moved to another slot, altered, or made with another key is a miss.
Keys are HMACs of store fingerprints and identifiers: no identifier or value
is readable on disk.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secretstores.crypto import Cipher, DecryptionError, load_key
from secretstores.paths import cache_dir, data_dir, private_dir

logger = logging.getLogger(__name__)

#: The environment variable that holds the cache key (else a 0600 key file is used).
CACHE_KEY_VARIABLE = "SECRETSTORES_CACHE_KEY"


class SecretCache:
    """Encrypted two-tier TTL cache of secret values, keyed by store and identifier.

    :param directory: the disk tier's directory (default: :func:`paths.cache_dir`).
    :param key_file: the key file (default: ``<data dir>/keys/cache.key``).
    :param enabled: False turns the cache off entirely (every get misses).
    :param memory: False turns the in-memory tier off.
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        key_file: str | Path | None = None,
        enabled: bool = True,
        memory: bool = True,
    ) -> None:
        self.enabled = enabled
        self.directory = Path(directory) if directory else cache_dir()
        self._key_file = Path(key_file) if key_file else data_dir() / "keys" / "cache.key"
        self._memory_enabled = memory
        self._memory: dict[tuple[str, str], tuple[float, str]] = {}
        self._disk: Any = None
        self._cipher: Cipher | None = None
        self._hmac_key = b""
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretCache(directory={str(self.directory)!r}, enabled={self.enabled})"

    def _open(self) -> Any:
        if self._disk is None:
            with self._lock:
                if self._disk is None:
                    import diskcache

                    key = load_key(CACHE_KEY_VARIABLE, self._key_file, "cache")
                    self._cipher = Cipher(key)
                    self._hmac_key = hashlib.sha256(b"slots" + key).digest()
                    private_dir(self.directory)
                    self._disk = diskcache.Cache(str(self.directory), statistics=False)
        return self._disk

    def store_key(self, *parts: str) -> str:
        """A stable, keyed fingerprint of a store's backend (type, configuration)."""
        if not self.enabled:
            # nothing is cached: any fingerprint will do, and no key file is needed
            return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
        self._open()
        return hmac.new(self._hmac_key, "\0".join(parts).encode(), "sha256").hexdigest()[:32]

    def _slot(self, store_key: str, identifier: str) -> str:
        digest = hmac.new(self._hmac_key, identifier.encode(), "sha256").hexdigest()[:32]
        return f"{store_key}:{digest}"

    @property
    def memory(self) -> Mapping[Any, tuple[float, str]]:
        """The in-memory tier: ``(store key, identifier) -> (monotonic expiry, value)``.

        Read-only for callers; the renderer reads it directly on its warm path.
        """
        return self._memory

    def get(self, store_key: str, identifier: str) -> str | None:
        """The cached value, or None when missing, expired, corrupt or tampered with."""
        if not self.enabled:
            return None
        disk = self._open()
        now = time.monotonic()
        entry = self._memory.get((store_key, identifier))
        if entry is not None and entry[0] > now:
            return entry[1]
        disk = self._open()
        slot = self._slot(store_key, identifier)
        try:
            blob, expire_time = disk.get(slot, default=None, expire_time=True)
        except Exception:  # an unreadable disk entry is a miss, never a crash
            logger.warning("cache entry unreadable; treating it as a miss")
            return None
        if blob is None:
            return None
        assert self._cipher is not None
        try:
            if not isinstance(blob, bytes):
                raise DecryptionError("not a ciphertext")
            value = self._cipher.decrypt(blob, slot.encode()).decode()
        except (DecryptionError, UnicodeDecodeError):
            logger.warning("cache entry failed its integrity check; discarded")
            disk.delete(slot)
            return None
        if self._memory_enabled and expire_time:
            self._memory[(store_key, identifier)] = (
                now + max(0.0, expire_time - time.time()), value)
        return value

    def set(self, store_key: str, identifier: str, value: str, ttl: float) -> None:
        """Cache ``value`` for ``ttl`` seconds (0 stores nothing)."""
        self.set_many(store_key, {identifier: value}, ttl)

    def set_many(self, store_key: str, values: dict[str, str], ttl: float) -> None:
        """Cache several values of one store for ``ttl`` seconds, in one disk transaction."""
        if not self.enabled or ttl <= 0 or not values:
            return
        disk = self._open()
        assert self._cipher is not None
        expires = time.monotonic() + ttl
        with disk.transact():
            for identifier, value in values.items():
                slot = self._slot(store_key, identifier)
                blob = self._cipher.encrypt(value.encode(), slot.encode())
                disk.set(slot, blob, expire=ttl, tag=store_key)
        if self._memory_enabled:
            for identifier, value in values.items():
                self._memory[(store_key, identifier)] = (expires, value)

    def invalidate(self, store_key: str | None = None, identifier: str | None = None) -> int:
        """Forget one secret, one store's secrets, or everything; return entries removed."""
        if not self.enabled:
            return 0
        disk = self._open()
        if store_key is None:
            self._memory.clear()  # in place: the renderer holds this dict
            return int(disk.clear())
        if identifier is not None:
            self._memory.pop((store_key, identifier), None)
            return 1 if disk.delete(self._slot(store_key, identifier)) else 0
        for slot in [s for s in list(self._memory) if s[0] == store_key]:
            self._memory.pop(slot, None)
        return int(disk.evict(store_key))

    def close(self) -> None:
        """Close the disk tier's database handles."""
        if self._disk is not None:
            self._disk.close()
