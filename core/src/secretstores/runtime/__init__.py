"""One configured store at run time: its session, its lane of workers, its cache slots.

Every operation on a store goes through :class:`StoreRuntime`, which owns the
mechanics every provider needs, so providers make single attempts and nothing
more:

- the hooks are called on the plugin that declared the store's type, and only
  for capabilities the type declares;
- every hook call runs on the process's shared worker threads, at most the
  store's ``concurrency`` at once (:mod:`~secretstores.runtime.workers`), while
  the caller waits no longer than the store's ``deadline``;
- a batch is split into the type's ``batch_size``; a type without a batch read
  is read one identifier at a time, fanned out over the lane;
- transient failures and throttling are retried with jittered backoff
  (:mod:`~secretstores.runtime.retry`); "unauthorized" logs in again and
  retries once; logins are single-flight with back-off
  (:mod:`~secretstores.runtime.sessions`);
- unexpected exceptions become errors that name the store and never a value;
- each operation ends with a :class:`~secretstores.model.StoreEvent`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_all
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

import attrs

from secretstores import forks
from secretstores.cache.entry import CachePolicy
from secretstores.config.fields import is_secret
from secretstores.config.model import CacheSettings
from secretstores.errors import (
    AccessDeniedError,
    AuthenticationError,
    MisconfiguredError,
    ReadOnlyStoreError,
    SecretNotFoundError,
    StoreError,
    StoreUnavailableError,
    ThrottledError,
    TransientError,
    Unauthorized,
    UnsupportedOperationError,
    clone_error,
)
from secretstores.model import Capability, FetchResult, Session, Status, StoreEvent, StoreSpec
from secretstores.redaction import forms
from secretstores.runtime.fetching import (
    LEFT_OUT,
    SHARED_POLL,
    SHARED_WAIT,
    PendingFetch,
    entry_of,
    refused,
)
from secretstores.runtime.retry import Deadline, RetryPolicy
from secretstores.runtime.sessions import ProviderFailure, Sessions
from secretstores.runtime.workers import Lane, shared_pool

if TYPE_CHECKING:
    from secretstores.cache import Entry, Generation, SecretCache
    from secretstores.plugins import Plugins

logger = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["PendingFetch", "StoreRuntime", "redact"]


def redact(text: str, *values: str | None) -> str:
    """``text`` with every occurrence of each value (3 characters or more) replaced by
    ``<redacted>``, the longest first, so no part of a longer value survives."""
    for value in sorted({v for v in values if v and len(v) >= 3}, key=len, reverse=True):
        text = text.replace(value, "<redacted>")
    return text


def _fingerprint(spec: StoreSpec) -> str:
    fields = attrs.asdict(spec.config) if attrs.has(type(spec.config)) else {}
    return json.dumps(fields, sort_keys=True, default=str)


def _forms(*values: str | None) -> list[str]:
    """Each value in every form a message may carry it (see :mod:`secretstores.redaction`)."""
    return [form for value in values if value for form in forms(value)]


def _leaves(value: Any) -> list[str]:
    """Every string inside a value (a service-account key object holds several)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _leaves(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _leaves(item)]
    return []


def _secret_config_values(config: Any) -> tuple[str, ...]:
    """What a configuration's credential fields hold, to keep out of messages: each
    string, its URL-encoded form, and the password of a URL."""
    if not attrs.has(type(config)):
        return ()
    values: list[str] = []
    for field in attrs.fields(type(config)):
        if not is_secret(field):
            continue
        for text in _leaves(getattr(config, field.name)):
            values += forms(text, json_leaves=False)
            if "://" in text:
                password = urlsplit(text).password
                if password:
                    values += [password, unquote(password)]
    return tuple(v for v in dict.fromkeys(values) if len(v) >= 3)


class _Stats:
    """Counters of one operation, shared by the worker threads serving it."""

    def __init__(self) -> None:
        self.calls = 0
        self.retries = 0
        self._lock = threading.Lock()

    def call(self) -> None:
        with self._lock:
            self.calls += 1

    def retry(self) -> None:
        with self._lock:
            self.retries += 1


class _Budget:
    """The retries one task may still make, within its operation's deadline."""

    def __init__(self, policy: RetryPolicy, deadline: Deadline, stats: _Stats) -> None:
        self.policy = policy
        self.deadline = deadline
        self.stats = stats
        self.retry = 0

    def again(self, retry_after: float | None = None) -> bool:
        """Wait before one more attempt; False when none is allowed."""
        self.retry += 1
        if self.policy.wait(self.retry, self.deadline, retry_after):
            self.stats.retry()
            return True
        return False


class _TransientAnswer(TransientError):
    """A read answered "transient": retried like a raised TransientError."""

    def __init__(self, result: FetchResult) -> None:
        self.result = result
        self.retry_after = result.retry_after
        super().__init__(result.message)


def _after_retries(reason: str, retries: int) -> str:
    return f"{reason} (after {retries} retr{'y' if retries == 1 else 'ies'})" if retries else reason


def _result_for(error: StoreError, retries: int = 0) -> FetchResult:
    """The result a read error stands for, for each identifier it concerned."""
    reason = _after_retries(error.reason, retries)
    if isinstance(error, AccessDeniedError):
        return FetchResult.denied(reason)
    if isinstance(error, SecretNotFoundError):
        return FetchResult.not_found(reason)
    if isinstance(error, MisconfiguredError):
        return FetchResult.misconfigured(reason)
    # Unreachable, timed out, failing: an outage the cache may ride out (not a refusal
    # of the credentials, which must not be papered over with a stale value).
    return FetchResult(Status.UNAVAILABLE, message=reason,
                       outage=isinstance(error, StoreUnavailableError)
                       and not isinstance(error, ProviderFailure))


_UNSET = object()
#: Seconds between two warnings that one store's values are served stale.
STALE_WARNING_INTERVAL = 30.0
#: Identifiers whose failed refresh is remembered at most (expired ones go first).
_RETRY_MEMORY = 10_000


def refresh_retry(policy: CachePolicy) -> float:
    """Seconds before a value whose refresh-ahead failed (an outage) is refreshed again,
    served meanwhile: a quarter of the refresh window, at least one second."""
    return max(1.0, policy.ttl * policy.refresh_ahead / 4)


class StoreRuntime:
    """The live side of one :class:`~secretstores.model.StoreSpec`."""

    def __init__(
        self, spec: StoreSpec, *, plugins: Plugins, cache: SecretCache,
        settings: CacheSettings | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.plugins = plugins
        self._route = plugins.route(spec.type)
        self.store_type = self._route.store_type
        self.cache = cache
        settings = settings or CacheSettings()
        ttl = spec.cache_ttl if spec.cache_ttl is not None else settings.ttl
        negative = (spec.negative_cache_ttl if spec.negative_cache_ttl is not None
                    else settings.negative_ttl)
        stale = spec.stale_if_error if spec.stale_if_error is not None \
            else settings.stale_if_error
        #: How this store uses the cache.
        self.cache_policy = CachePolicy(ttl, negative if ttl > 0 else 0.0, stale,
                                        settings.refresh_ahead,
                                        shared=not self.store_type.process_local)
        self.lane = Lane(spec.concurrency if self.store_type.thread_safe else 1)
        self.policy = RetryPolicy(retries=spec.retries)
        self.sessions = Sessions(spec.name, self._login, login_deadline=spec.deadline)
        self._secrets = _secret_config_values(spec.config)
        self._scope: str | None = None
        self._memory_scope: object = _UNSET
        #: Identifiers being fetched by this process now, and the answer each will get.
        self.inflight: dict[str, Future[FetchResult | None]] = {}
        self.inflight_lock = threading.Lock()
        self._refreshing: set[str] = set()
        #: Identifiers whose refresh failed: when (monotonic) to refresh them again.
        self._refresh_after: dict[str, float] = {}
        self._stale_warned = -STALE_WARNING_INTERVAL
        forks.register(self)

    def _after_fork(self) -> None:
        # The parent's fetches in flight never end here: nothing may wait for them.
        self.inflight = {}
        self.inflight_lock = threading.Lock()
        self._refreshing = set()
        self._refresh_after = {}

    def __repr__(self) -> str:
        return f"StoreRuntime(name={self.name!r}, type={self.spec.type!r})"

    @property
    def ttl(self) -> float:
        """Seconds a fetched value stays fresh in the cache for this store."""
        return self.cache_policy.ttl

    def _ask_identity(self) -> str:
        """What the provider says decides the store's principal (see the identity hook)."""
        try:
            identity = self._route.call("secretstores_identity", store=self.spec)
        except Exception as exc:  # no identity: cache nothing another process could see
            logger.warning("store '%s': the identity hook failed (%s); its values are cached "
                           "in this process only", self.name, type(exc).__name__)
            return f"unknown:{uuid.uuid4().hex}"
        return str(identity) if identity is not None else ""

    @property
    def scope(self) -> str:
        """The store's scope in the cache: a keyed hash of its type, configuration and
        identity (not its name: two stores over one backend, ``local`` and a DB
        ``manager``, share entries, so a write through one refreshes both)."""
        if self._scope is None:
            identity = self._ask_identity()
            shared = self.cache_policy.shared and not identity.startswith("unknown:")
            self._scope = self.cache.scope(self.spec.type, _fingerprint(self.spec), identity,
                                           shared=shared)
        return self._scope

    # -- plumbing -------------------------------------------------------------

    def timed_out(self, deadline: Deadline) -> str:
        """The reason given when an operation ran out of time."""
        busy = self.lane.running
        more = f"; {busy} request{'s' if busy != 1 else ''} to it still in flight" if busy else ""
        return (f"timed out: no answer within the store's deadline of {deadline.seconds:g} s "
                f"(timeout {self.spec.timeout:g} s per request{more})")

    def emit(self, operation: str, started: float, stats: _Stats | None = None, *,
             identifiers: Sequence[str] = (), outcomes: Mapping[str, Status] | None = None,
             cached: frozenset[str] = frozenset(), error: str | None = None,
             sources: Mapping[str, str] | None = None, background: bool = False) -> None:
        """Give a :class:`StoreEvent` to the plugins that observe operations."""
        self.plugins.emit(StoreEvent(
            store=self.name, type=self.spec.type, operation=operation,
            identifiers=tuple(identifiers), outcomes=dict(outcomes or {}), cached=cached,
            started=started, duration=time.time() - started,
            calls=stats.calls if stats else 0, retries=stats.retries if stats else 0,
            error=error, sources=dict(sources or {}), background=background))

    def emit_cached(self, identifiers: Sequence[str]) -> None:
        """The event of a fetch the memory tier answered whole (the warm paths)."""
        self.emit("fetch", time.time(), identifiers=identifiers,
                  outcomes=dict.fromkeys(identifiers, Status.FOUND),
                  cached=frozenset(identifiers), sources=dict.fromkeys(identifiers, "memory"))

    def _own(self, error: StoreError, *secret_values: str | None) -> StoreError:
        """A copy of ``error`` naming this store, with values and credentials redacted."""
        clone = clone_error(error)
        clone.store = self.name
        clone.reason = redact(error.reason, *_forms(*secret_values), *self._secrets)
        clone.args = (f"store '{self.name}': {clone.reason}",)
        return clone

    def _unexpected(self, what: str, exc: BaseException, *secret_values: str | None
                    ) -> StoreError:
        """The error for anything else a hook raised: its type and redacted text."""
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        message = redact(text, *_forms(*secret_values), *self._secrets)
        return ProviderFailure(f"{what} failed: {message}", store=self.name)

    def _invoke(self, what: str, hook: str, budget: _Budget, *secret_values: str | None,
                **kwargs: Any) -> Any:
        """One hook call with its retries and re-authentication (on a worker thread).

        Every error it raises is this store's, redacted, and carries no context (the
        provider's own exception, which may quote a credential, is not attached).
        """
        session = self.sessions.get(budget.deadline)
        reauthenticated = False
        while True:
            budget.stats.call()
            error: StoreError | None = None
            retry_after: float | None = None
            try:
                answer = self._route.call(hook, store=self.spec, client=session.client, **kwargs)
                if isinstance(answer, FetchResult) and answer.retryable:
                    raise _TransientAnswer(answer)
                return answer
            except Unauthorized as exc:
                if reauthenticated:
                    reason = redact(exc.reason, *_forms(*secret_values), *self._secrets)
                    error = AuthenticationError(
                        f"{what}: unauthorized even after authenticating again ({reason})",
                        store=self.name)
                    self.sessions.refused(error)
                else:
                    reauthenticated = True
            except TransientError as exc:
                retry_after = (exc.retry_after
                               if isinstance(exc, ThrottledError | _TransientAnswer) else None)
                if not budget.again(retry_after):
                    if isinstance(exc, _TransientAnswer):
                        return FetchResult(Status.UNAVAILABLE, outage=True, message=redact(
                            _after_retries(exc.reason, budget.retry - 1), *self._secrets))
                    error = self._own(exc, *secret_values)
                    error.reason = _after_retries(error.reason, budget.retry - 1)
                    error.args = (f"store '{self.name}': {error.reason}",)
                else:
                    continue
            except StoreError as exc:
                error = self._own(exc, *secret_values)
            except Exception as exc:  # ConfigError from a provider too: never raw
                error = self._unexpected(what, exc, *secret_values)
            if error is not None:
                raise error  # outside the except blocks: no __context__ to leak
            session = self.sessions.get(budget.deadline, stale=session)

    def _run(self, what: str, task: Callable[[_Budget], T], deadline: Deadline,
             stats: _Stats, on_late: Callable[[], None] | None = None) -> T:
        """Run ``task`` on the lane and wait for it, no longer than ``deadline``.

        ``on_late`` runs when a task the caller stopped waiting for finishes after all.
        """
        future = self.lane.submit(lambda: task(_Budget(self.policy, deadline, stats)))
        done, _ = wait_all([future], timeout=deadline.remaining())
        if not done:
            if not future.cancel() and on_late is not None:
                future.add_done_callback(lambda _: on_late())
            raise StoreUnavailableError(f"{what}: {self.timed_out(deadline)}", store=self.name)
        error = future.exception()
        if error is not None:
            if not isinstance(error, StoreError):
                error = self._unexpected(what, error)
            raise clone_error(error)
        return future.result()

    def _operation(self, operation: str, what: str, hook: str, *secret_values: str | None,
                   identifiers: Sequence[str] = (), on_done: Callable[[], None] | None = None,
                   none_allowed: bool = False, **kwargs: Any) -> Any:
        """A whole non-read operation (check, store, delete, list) with its event."""
        started, stats = time.time(), _Stats()
        deadline = Deadline.after(self.spec.deadline)
        error: str | None = None
        try:
            answer = self._run(what, lambda budget: self._invoke(
                what, hook, budget, *secret_values, **kwargs), deadline, stats, on_late=on_done)
            if answer is None and not none_allowed:
                raise StoreUnavailableError(
                    f"{what} failed: {self._route.distribution} returned nothing from {hook}",
                    store=self.name)
            return answer
        except StoreError as exc:
            error = exc.reason
            raise
        finally:
            if on_done is not None:
                on_done()
            if self.plugins.listening:
                self.emit(operation, started, stats, identifiers=identifiers, error=error)

    def _login(self, deadline: Deadline) -> Session:
        """Authenticate (the hook, retried when transient); called by :class:`Sessions`."""
        started, stats = time.time(), _Stats()
        budget = _Budget(self.policy, deadline, stats)
        failure: StoreError | None = None
        try:
            while True:
                stats.call()
                retry = False
                try:
                    answer = self._route.call("secretstores_authenticate", store=self.spec)
                except TransientError as exc:
                    retry_after = exc.retry_after if isinstance(exc, ThrottledError) else None
                    retry = budget.again(retry_after)
                    if not retry:
                        failure = self._own(exc)
                except StoreError as exc:
                    failure = self._own(exc)
                except Exception as exc:  # ConfigError from a provider too: redacted
                    failure = self._unexpected("authentication", exc)
                if failure is not None:
                    raise failure  # outside the except blocks: no __context__ to leak
                if retry:
                    continue
                if answer is None:
                    failure = StoreUnavailableError(
                        f"authentication failed: {self._route.distribution} returned no "
                        "session", store=self.name)
                    raise failure
                return answer if isinstance(answer, Session) else Session(client=answer)
        finally:
            if self.plugins.listening:
                self.emit("authenticate", started, stats,
                          error=failure.reason if failure is not None else None)

    def _require(self, capability: Capability, action: str) -> None:
        if not self.store_type.can(capability):
            raise UnsupportedOperationError(
                f"cannot {action}: stores of type '{self.spec.type}' do not have the "
                f"'{capability.value}' capability", store=self.name)

    # -- sessions -----------------------------------------------------------

    def session(self) -> Session:
        """The current session, authenticating first when there is none or it is expiring."""
        deadline = Deadline.after(self.spec.deadline)
        return self._run("authentication", lambda budget: self.sessions.get(deadline),
                         deadline, _Stats())

    def check(self) -> str:
        """Prove the store works: authenticate, then the type's check hook if it has one.

        :return: what was verified, for ``secretstores stores --check``.
        """
        if not self.store_type.can(Capability.CHECK):
            self.session()
            return "authenticated (this store type has no deeper check)"
        note = self._operation("check", "check", "secretstores_check", none_allowed=True)
        return str(note) if note is not None else "ok"

    # -- reading -----------------------------------------------------------

    def memory_key(self, identifier: str) -> tuple[str, str] | None:
        """The warm path's key of ``identifier``; None when this store caches nothing
        (``cacheTtl: 0``), even if another store over the same backend does."""
        memory_scope = self._memory_scope
        if memory_scope is _UNSET:
            memory_scope = self._memory_scope = self.cache.memory_scope(self.scope,
                                                                       self.cache_policy)
        if memory_scope is None:
            return None
        return (str(memory_scope), identifier)

    def fetch(self, identifiers: Iterable[str]) -> dict[str, FetchResult]:
        """Results for ``identifiers``: cached ones first, the rest from the store."""
        return self.fetch_begin(identifiers).wait()

    def fetch_uncached(self, identifiers: Sequence[str]) -> dict[str, FetchResult]:
        """Ask the store for ``identifiers`` (never the cache) and cache what was found."""
        return self.fetch_begin(identifiers, use_cache=False).wait()

    def fetch_begin(self, identifiers: Iterable[str], *, use_cache: bool = True,
                    background: bool = False) -> PendingFetch:
        """Start fetching ``identifiers``; ``wait()`` on the answer (see
        :mod:`~secretstores.runtime.fetching`)."""
        return PendingFetch(self, list(identifiers), use_cache=use_cache,
                            background=background)

    def warn_stale(self) -> bool:
        """Whether to warn that stale values are served (once per 30 s per store)."""
        now = time.monotonic()
        if now - self._stale_warned < STALE_WARNING_INTERVAL:
            return False
        self._stale_warned = now
        return True

    @property
    def refreshing(self) -> frozenset[str]:
        """The identifiers being refreshed in the background right now."""
        return frozenset(self._refreshing)

    def refresh_ahead(self, identifiers: Sequence[str]) -> None:
        """Fetch ``identifiers`` again in the background (once each at a time; after a
        failed refresh, not again before :func:`refresh_retry` seconds)."""
        now = time.monotonic()
        with self.inflight_lock:
            fresh = [i for i in identifiers if i not in self._refreshing
                     and self._refresh_after.get(i, 0.0) <= now]
            self._refreshing.update(fresh)
        if not fresh:
            return
        policy = self.cache_policy
        held = self.cache.refreshing(self.scope, policy, fresh, self.spec.deadline)

        def refresh() -> None:
            serve: dict[str, float] = {}  # failed in an outage: served, retried later
            retry = refresh_retry(policy)
            try:
                fetch = self.fetch_begin(fresh, use_cache=False, background=True)
                results = fetch.wait()
                serve = {i: retry for i in fresh
                         if i not in fetch.skipped and results[i].outage}
                elsewhere = {i: e for i, e in held.items() if i in fetch.skipped}
                if elsewhere:  # another fetch refreshes them: wait for its answer
                    self._await_refresh(elsewhere)
            except Exception as exc:  # nobody waits for it: say why it failed
                serve = dict.fromkeys(fresh, retry)
                logger.warning("store '%s': refreshing ahead failed: %s", self.name,
                               type(exc).__name__)
            finally:
                # Whatever was not replaced stops being held: served no longer than its
                # TTL, and not at all unless an outage failed the refresh.
                self.cache.refreshed(self.scope, policy, held, serve)
                self._refreshed(fresh, serve)

        shared_pool().submit(refresh)

    def _refreshed(self, identifiers: list[str], retry_in: Mapping[str, float]) -> None:
        now = time.monotonic()
        with self.inflight_lock:
            self._refreshing.difference_update(identifiers)
            after = self._refresh_after
            for identifier in identifiers:
                if identifier in retry_in:
                    after[identifier] = now + retry_in[identifier]
                else:
                    after.pop(identifier, None)
            if len(after) > _RETRY_MEMORY:
                for identifier in [i for i, t in after.items() if t <= now]:
                    del after[identifier]

    def _await_refresh(self, held: dict[str, Entry]) -> None:
        """Wait (briefly) for the fetch refreshing ``held`` in another process or thread
        to replace them (on disk or in memory)."""
        until = time.monotonic() + min(SHARED_WAIT, self.spec.deadline)
        waiting = dict(held)
        while waiting and time.monotonic() < until:
            time.sleep(SHARED_POLL)
            landed = self.cache.newer(self.scope, self.cache_policy, waiting)
            waiting = {i: e for i, e in waiting.items() if i not in landed}

    @staticmethod
    def track(identifiers: list[str],
              future: Future[dict[str, FetchResult]]) -> Future[dict[str, FetchResult]]:
        """Tag a task's future with its identifiers (to answer them if it fails whole)."""
        future.secretstores_identifiers = identifiers  # type: ignore[attr-defined]
        return future

    @staticmethod
    def task_identifiers(future: Future[Any]) -> list[str]:
        """The identifiers :meth:`track` tagged ``future`` with."""
        return list(getattr(future, "secretstores_identifiers", []))

    def read_one(self, identifier: str, deadline: Deadline,
                 stats: _Stats) -> dict[str, FetchResult]:
        """One identifier through ``secretstores_read`` (a task on the lane)."""
        budget = _Budget(self.policy, deadline, stats)
        try:
            result = self._invoke("read", "secretstores_read", budget, identifier=identifier)
        except StoreError as exc:
            result = _result_for(exc)
        if not isinstance(result, FetchResult):
            result = FetchResult.unavailable(
                f"{self._route.distribution} answered the read with "
                f"{type(result).__name__}, not a FetchResult")
        return self._redacted({identifier: result})

    def read_batch(self, identifiers: list[str], deadline: Deadline,
                   stats: _Stats) -> dict[str, FetchResult]:
        """A part of a batch through ``secretstores_fetch`` (a task on the lane)."""
        budget = _Budget(self.policy, deadline, stats)
        results: dict[str, FetchResult] = {}
        pending = identifiers
        while pending:
            try:
                answer = self._invoke("fetch", "secretstores_fetch", budget,
                                      identifiers=list(pending))
            except StoreError as exc:
                results.update(dict.fromkeys(pending, _result_for(exc)))
                break
            if not isinstance(answer, Mapping):
                reason = (f"{self._route.distribution} answered the batch with "
                          f"{type(answer).__name__}, not a mapping")
                results.update(dict.fromkeys(pending, FetchResult.unavailable(reason)))
                break
            again: list[str] = []
            retry_after: float | None = None
            for identifier in pending:
                result = answer.get(identifier)
                if result is None:
                    results[identifier] = LEFT_OUT
                elif not isinstance(result, FetchResult):
                    results[identifier] = FetchResult.unavailable(
                        f"{self._route.distribution} answered {type(result).__name__}, "
                        "not a FetchResult")
                elif result.retryable:
                    again.append(identifier)
                    retry_after = max(retry_after or 0.0, result.retry_after or 0.0) or None
                    results[identifier] = FetchResult(
                        Status.UNAVAILABLE, message=_after_retries(result.message, budget.retry),
                        outage=True)
                else:
                    results[identifier] = result
            pending = again if again and budget.again(retry_after) else []
        return self._redacted(results)

    def _redacted(self, results: dict[str, FetchResult]) -> dict[str, FetchResult]:
        """``results`` with credentials redacted from the messages a provider returned."""
        if self._secrets:
            for identifier, result in results.items():
                if result.message and result is not LEFT_OUT:
                    message = redact(result.message, *self._secrets)
                    if message != result.message:
                        results[identifier] = attrs.evolve(result, message=message)
        return results

    def cache_answers(self, answers: Mapping[str, FetchResult],
                      generation: Generation | None, unlock: Iterable[str] = ()) -> None:
        """Cache values and "not found" answers, in one transaction, unless the store was
        written (or its cache cleared) since the fetch began: they may predate the write.
        A refusal (see :func:`~secretstores.runtime.fetching.refused`) drops the cached
        value instead. The fetch locks of ``unlock`` are given back in the same
        transaction."""
        now = time.time()
        entries = {i: e for i, r in answers.items() if (e := entry_of(r, now)) is not None}
        self.cache.store(self.scope, self.cache_policy, entries, generation, unlock=unlock,
                         forget=[i for i, r in answers.items() if refused(r)])

    def list_names(self) -> list[str]:
        """The names of the store's secrets; raise when its type cannot list."""
        self._require(Capability.LIST, "list secrets")
        return sorted(self._operation("list", "list", "secretstores_list_names"))

    # -- writing -----------------------------------------------------------

    def check_writable(self, action: str) -> None:
        """Raise :class:`ReadOnlyStoreError` when this store cannot be written."""
        if not self.store_type.writable:
            raise ReadOnlyStoreError(
                f"cannot {action}: the store is read-only (stores of type '{self.spec.type}' "
                "cannot write)", store=self.name)
        if self.spec.read_only:
            raise ReadOnlyStoreError(
                f"cannot {action}: the store is read-only; to allow writes, set "
                '"readOnly": false in its definition (stores of type '
                f"'{self.spec.type}' are read-only unless they say so)", store=self.name)

    def put(self, name: str, value: str) -> None:
        """Write ``value`` as secret ``name`` and drop the store's cached values."""
        self.check_writable("store a secret")
        self._operation("store", "store", "secretstores_store", value,
                        identifiers=(name,), on_done=self._invalidate_all,
                        name=name, value=value, request_id=str(uuid.uuid4()))

    def delete(self, name: str) -> bool:
        """Delete secret ``name``; True when it existed."""
        self.check_writable("delete a secret")
        self._require(Capability.DELETE, "delete a secret")
        return bool(self._operation("delete", "delete", "secretstores_delete",
                                    identifiers=(name,), on_done=self._invalidate_all,
                                    name=name))

    def _invalidate_all(self) -> None:
        # The whole store: the secret may be cached under other identifiers too
        # (an ARN and a name, a pinned version, a mapping's target).
        self.leave_flights()
        self.cache.invalidate(self.scope)

    def leave_flights(self, identifier: str | None = None) -> None:
        # A read asked for after a write or an invalidation must not join a fetch that
        # began before it (its answer may be the old value): such fetches still end and
        # answer their own callers, but nobody new waits for them. (Their results are
        # not cached either: the generation moved on.)
        with self.inflight_lock:
            if identifier is None:
                self.inflight.clear()
            else:
                self.inflight.pop(identifier, None)

    def invalidate(self, identifier: str | None = None) -> int:
        """Drop one cached secret of this store, or all of them."""
        self.leave_flights(identifier)
        return self.cache.invalidate(self.scope, identifier)

    def close(self) -> None:
        """Close the session's client, if the provider gave a way to."""
        session = self.sessions.drop()
        if session is not None and session.close is not None:
            session.close()
