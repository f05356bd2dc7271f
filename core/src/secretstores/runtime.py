"""One configured store at run time: its session, its cache slots, and the hook calls.

Every read or write of a store goes through :class:`StoreRuntime`, which
authenticates on first use, re-authenticates before a session expires or after
the store answered "unauthorized" (retrying the call once), serves and fills
the cache, and turns unexpected provider exceptions into errors that name the
store and never a value.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from secretstores.errors import (
    AuthenticationError,
    ReadOnlyStoreError,
    SecretStoresError,
    StoreError,
    StoreUnavailableError,
    Unauthorized,
)
from secretstores.model import FetchResult, Session, Status, StoreSpec

if TYPE_CHECKING:
    from secretstores.cache import SecretCache
    from secretstores.plugins import Plugins

T = TypeVar("T")


def redact(text: str, *values: str | None) -> str:
    """``text`` with every occurrence of each non-empty value replaced by ``<redacted>``."""
    for value in values:
        if value and len(value) >= 3:
            text = text.replace(value, "<redacted>")
    return text


def _fingerprint(spec: StoreSpec) -> str:
    fields = attrs.asdict(spec.config) if attrs.has(type(spec.config)) else {}
    return json.dumps(fields, sort_keys=True, default=str)


class StoreRuntime:
    """The live side of one :class:`~secretstores.model.StoreSpec`."""

    def __init__(
        self, spec: StoreSpec, *, plugins: Plugins, cache: SecretCache, default_ttl: float
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.ttl = spec.cache_ttl if spec.cache_ttl is not None else default_ttl
        self._plugins = plugins
        self._cache = cache
        self._session: Session | None = None
        self._lock = threading.Lock()
        self._store_key: str | None = None

    def __repr__(self) -> str:
        return f"StoreRuntime(name={self.name!r}, type={self.spec.type!r})"

    @property
    def store_key(self) -> str:
        """The store's keyed fingerprint in the cache (type and configuration)."""
        if self._store_key is None:
            # Not the store's name: two stores over the same backend (``local`` and a
            # DB ``manager``) share entries, so a write through one refreshes both.
            self._store_key = self._cache.store_key(self.spec.type, _fingerprint(self.spec))
        return self._store_key

    # -- sessions -----------------------------------------------------------

    def session(self, *, renew: bool = False, stale: Session | None = None) -> Session:
        """The current session, authenticating first when there is none or it is expiring."""
        with self._lock:
            current = self._session
            if current is not None and not renew and not _expiring(current):
                return current
            if renew and stale is not None and current is not stale:
                return current  # type: ignore[return-value]  # another thread renewed it
            # The replaced session is not closed here: other threads may still be in
            # the middle of a request on its client. It is dropped for the GC.
            self._session = self._authenticate()
            return self._session

    def _authenticate(self) -> Session:
        try:
            session = self._plugins.hook.secretstores_authenticate(store=self.spec)
        except StoreError as exc:
            if exc.store is None:
                exc.store = self.name
                exc.args = (f"store '{self.name}': {exc.args[0]}",)
            raise
        except SecretStoresError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(
                f"authentication failed: {type(exc).__name__}: {exc}", store=self.name
            ) from None
        if session is None:
            raise StoreUnavailableError(
                f"no loaded plugin authenticates stores of type '{self.spec.type}'",
                store=self.name,
            )
        if not isinstance(session, Session):
            session = Session(client=session)
        return session

    def check(self) -> None:
        """Authenticate now (``secretstores stores --check``); raise when it fails."""
        self.session(renew=True)

    def _call(self, what: str, call: Callable[[Any], T], *secret_values: str | None) -> T:
        """Run ``call(client)``, re-authenticating and retrying once on Unauthorized."""
        session = self.session()
        for attempt in (1, 2):
            try:
                return call(session.client)
            except Unauthorized:
                if attempt == 2:
                    raise AuthenticationError(
                        f"{what}: unauthorized even after authenticating again", store=self.name
                    ) from None
                session = self.session(renew=True, stale=session)
            except StoreError as exc:
                if exc.store is None:
                    raise type(exc)(redact(str(exc), *secret_values), store=self.name) from None
                raise
            except SecretStoresError:
                raise
            except Exception as exc:
                message = redact(f"{type(exc).__name__}: {exc}", *secret_values)
                raise StoreUnavailableError(f"{what} failed: {message}", store=self.name) from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reading -----------------------------------------------------------

    def memory_key(self, identifier: str) -> tuple[str, str] | None:
        """The key of ``identifier`` in the cache's memory tier; None when this store
        does not cache (``cacheTtl: 0``), even if another store over the same backend does.
        """
        return (self.store_key, identifier) if self.ttl > 0 else None

    def cached(self, identifier: str) -> str | None:
        """The cached value of ``identifier``, or None."""
        if self.ttl <= 0:
            return None
        return self._cache.get(self.store_key, identifier)

    def fetch(self, identifiers: Iterable[str]) -> dict[str, FetchResult]:
        """Results for ``identifiers``: cached ones first, the rest in one hook call."""
        results: dict[str, FetchResult] = {}
        missing: list[str] = []
        for identifier in dict.fromkeys(identifiers):
            value = self.cached(identifier)
            if value is not None:
                results[identifier] = FetchResult.found(value)
            else:
                missing.append(identifier)
        if missing:
            results.update(self.fetch_uncached(missing))
        return results

    def fetch_uncached(self, identifiers: Sequence[str]) -> dict[str, FetchResult]:
        """Ask the store for ``identifiers`` (one hook call) and cache what was found."""

        def call(client: Any) -> Any:
            return self._plugins.hook.secretstores_fetch(
                store=self.spec, client=client, identifiers=list(identifiers)
            )

        try:
            answer = self._call("fetch", call)
        except (StoreUnavailableError, AuthenticationError) as exc:
            reason = str(exc).removeprefix(f"store '{self.name}': ")
            return {i: FetchResult.unavailable(reason) for i in identifiers}
        if answer is None:
            raise StoreUnavailableError(
                f"no loaded plugin fetches from stores of type '{self.spec.type}'", store=self.name
            )
        results: dict[str, FetchResult] = {}
        found: dict[str, str] = {}
        for identifier in identifiers:
            result = answer.get(identifier)
            if result is None:
                result = FetchResult.unavailable("the store gave no answer for this identifier")
            elif result.status is Status.FOUND and result.value is not None:
                found[identifier] = result.value
            results[identifier] = result
        self._cache.set_many(self.store_key, found, self.ttl)
        return results

    def list_names(self) -> list[str]:
        """The names of the store's secrets; raise when its type cannot list."""

        def call(client: Any) -> Any:
            return self._plugins.hook.secretstores_list_names(store=self.spec, client=client)

        names = self._call("list", call)
        if names is None:
            raise StoreError(f"stores of type '{self.spec.type}' cannot list secrets",
                             store=self.name)
        return sorted(names)

    # -- writing -----------------------------------------------------------

    def check_writable(self, action: str) -> None:
        """Raise :class:`ReadOnlyStoreError` when this store cannot be written."""
        if self.spec.read_only:
            raise ReadOnlyStoreError(
                f"cannot {action}: the store is read-only (type '{self.spec.type}'"
                + (", readOnly: true)" if self._type_writable() else " cannot write)"),
                store=self.name,
            )

    def _type_writable(self) -> bool:
        types = self._plugins.store_types()
        return self.spec.type in types and types[self.spec.type][0].writable

    def put(self, name: str, value: str) -> None:
        """Write ``value`` as secret ``name`` and drop the store's cached values."""
        self.check_writable("store a secret")

        def call(client: Any) -> Any:
            return self._plugins.hook.secretstores_store(
                store=self.spec, client=client, name=name, value=value
            )

        try:
            done = self._call("store", call, value)
        finally:
            # The whole store: the secret may be cached under other identifiers too
            # (an ARN and a name, a pinned version, a mapping's target).
            self._cache.invalidate(self.store_key)
        if done is None:
            raise ReadOnlyStoreError(
                f"cannot store a secret: type '{self.spec.type}' cannot write", store=self.name
            )

    def delete(self, name: str) -> bool:
        """Delete secret ``name``; True when it existed."""
        self.check_writable("delete a secret")

        def call(client: Any) -> Any:
            return self._plugins.hook.secretstores_delete(store=self.spec, client=client, name=name)

        try:
            done = self._call("delete", call)
        finally:
            self._cache.invalidate(self.store_key)
        if done is None:
            raise ReadOnlyStoreError(
                f"cannot delete a secret: type '{self.spec.type}' cannot delete", store=self.name
            )
        return bool(done)

    def invalidate(self, identifier: str | None = None) -> int:
        """Drop one cached secret of this store, or all of them."""
        return self._cache.invalidate(self.store_key, identifier)

    def close(self) -> None:
        """Close the session's client, if the provider gave a way to."""
        with self._lock:
            if self._session is not None and self._session.close is not None:
                self._session.close()
            self._session = None


def _expiring(session: Session) -> bool:
    if session.expires_at is None:
        return False
    return time.time() >= session.expires_at - session.renew_before
