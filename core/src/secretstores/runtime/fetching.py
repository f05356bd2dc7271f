"""One fetch of one store, from the cache lookup to the answers: :class:`PendingFetch`.

A fetch starts with :meth:`StoreRuntime.fetch_begin
<secretstores.runtime.StoreRuntime.fetch_begin>` and ends with
:meth:`PendingFetch.wait`, which the caller runs (a render waits for every store's
fetch at once). In between:

1. the cache answers what it holds fresh (values due for refresh are served and
   refreshed in the background);
2. an identifier another thread of this process is already fetching is not fetched
   again: this fetch waits for that one's answer;
3. an identifier another process is fetching right now (it holds the identifier's
   lock in the disk tier) is waited for, briefly, on disk;
4. the rest is read from the store on its lane: batches, or single reads fanned out;
5. answers are cached (unless the store was written meanwhile), an outage's answers
   are replaced by stale values within ``staleIfError``, and one event reports it all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_all
from functools import partial
from typing import TYPE_CHECKING

from secretstores.cache import Entry, Freshness, Generation
from secretstores.errors import StoreError
from secretstores.model import Capability, FetchResult, Status
from secretstores.runtime.retry import Deadline

if TYPE_CHECKING:
    from secretstores.runtime import StoreRuntime, _Stats

logger = logging.getLogger("secretstores.cache")

#: The longest a fetch waits for another process fetching the same secret, in seconds.
SHARED_WAIT = 2.0
#: How often it looks for that process's answer on disk, in seconds.
SHARED_POLL = 0.02

#: What a batch task answers for an identifier the provider's batch left out.
LEFT_OUT = FetchResult.unavailable("left out of the batch")


def result_of(entry: Entry) -> FetchResult:
    """The answer a cached entry stands for."""
    if entry.value is None:
        return FetchResult.not_found(entry.message or "not found")
    return FetchResult.found(entry.value, version=entry.version, expires_at=entry.expires_at)


def refused(result: FetchResult) -> bool:
    """Whether an answer refuses the value rather than failing to get it: denied, a
    misconfiguration, rejected credentials, any failure that is not an outage. What it
    refuses is never served stale, so the cached value goes (revoked stays revoked)."""
    return result.status is Status.DENIED or (result.status is Status.UNAVAILABLE
                                              and not result.outage)


def entry_of(result: FetchResult, fetched_at: float) -> Entry | None:
    """What to cache of an answer: a value, a "not found", or nothing."""
    if result.status is Status.FOUND and result.value is not None and not result.stale:
        return Entry(result.value, fetched_at, "", result.expires_at, result.version)
    if result.status is Status.NOT_FOUND:
        return Entry(None, fetched_at, result.message)
    return None


class PendingFetch:
    """A fetch on its way; :meth:`wait` collects it, by the store's deadline at the latest.

    The last task to end (from its done-callback, on a worker thread) caches every
    answer in one transaction and settles the identifiers, so threads that joined this
    fetch get their answers whatever the thread that started it is doing.
    """

    def __init__(self, runtime: StoreRuntime, identifiers: Sequence[str], *,
                 use_cache: bool = True, background: bool = False, lock: bool = True,
                 deadline: Deadline | None = None) -> None:
        self._runtime = runtime
        self._identifiers = list(dict.fromkeys(identifiers))
        self._background = background
        self._started = time.time()
        self._deadline = deadline or Deadline.after(runtime.spec.deadline)
        from secretstores.runtime import _Stats

        self._stats: _Stats = _Stats()
        self._results: dict[str, FetchResult] = {}
        self._sources: dict[str, str] = {}
        self._stale: dict[str, Entry] = {}
        self._cache_policy = runtime.cache_policy
        self._generation: Generation | None = None  # read before the store is asked
        self._lock = threading.Lock()
        self._tasks: list[Future[dict[str, FetchResult]]] = []
        self._answers: dict[str, FetchResult] = {}  # what the store answered, to cache
        self._joined: dict[str, Future[FetchResult | None]] = {}
        self._mine: dict[str, Future[FetchResult | None]] = {}
        self._locked: set[str] = set()
        self._elsewhere: list[str] = []
        #: What a background refresh left to another fetch (of this process or another)
        #: fetching it already.
        self.skipped: frozenset[str] = frozenset()
        self._outstanding = 0  # tasks not finished yet
        self._done = False  # the caller stopped waiting
        if use_cache:
            self._from_cache()
        self._start([i for i in self._identifiers if i not in self._results], lock)

    # -- starting -----------------------------------------------------------------------

    def _from_cache(self) -> None:
        runtime = self._runtime
        refresh: list[str] = []
        lookups = runtime.cache.lookup(runtime.scope, self._cache_policy, self._identifiers)
        refreshing = runtime.refreshing if not self._background else frozenset()
        for identifier, found in lookups.items():
            if found.freshness is Freshness.STALE and identifier not in refreshing:
                self._stale[identifier] = found.entry  # kept for an outage
                continue
            # (past its TTL while a refresh of it is under way: served while it runs,
            # within staleIfError, rather than waiting for it)
            self._results[identifier] = result_of(found.entry)
            self._sources[identifier] = "negative" if found.entry.value is None \
                else found.source
            if found.freshness is Freshness.REFRESH:
                refresh.append(identifier)
        if refresh and not self._background:
            runtime.refresh_ahead(refresh)

    def _start(self, missing: list[str], lock_elsewhere: bool) -> None:
        runtime = self._runtime
        inflight, lock = runtime.inflight, runtime.inflight_lock
        skipped: set[str] = set()
        with lock:
            for identifier in missing:
                other = inflight.get(identifier)
                if other is None:
                    future: Future[FetchResult | None] = Future()
                    inflight[identifier] = future
                    self._mine[identifier] = future
                elif self._background:
                    skipped.add(identifier)  # another thread fetches it: its answer will do
                else:
                    self._joined[identifier] = other  # another thread is fetching it
        mine = list(self._mine)
        if mine and self._cache_policy.ttl > 0 and lock_elsewhere:
            self._locked, self._generation = runtime.cache.lock(
                runtime.scope, self._cache_policy, mine, runtime.spec.deadline)
            self._elsewhere = [i for i in mine if i not in self._locked]
            for identifier in self._elsewhere:  # others here wait on disk by themselves
                self._settle(identifier, None)
            if self._background:  # another process refreshes them already: leave them
                skipped.update(self._elsewhere)
                self._elsewhere = []
        elif mine:
            self._generation = runtime.cache.generation(runtime.scope, self._cache_policy)
        self.skipped = frozenset(skipped)
        self._submit([i for i in mine if i not in self._elsewhere and i not in skipped])

    def _submit(self, identifiers: list[str], *, single: bool = False) -> None:
        runtime = self._runtime
        if not identifiers:
            return
        deadline, stats = self._deadline, self._stats
        if runtime.store_type.can(Capability.BATCH_READ) and not single:
            size = runtime.store_type.batch_size or len(identifiers)
            tasks = [runtime.track(chunk, runtime.lane.submit(
                partial(runtime.read_batch, chunk, deadline, stats)))
                for chunk in (identifiers[i:i + size]
                              for i in range(0, len(identifiers), size))]
        else:
            tasks = [runtime.track([i], runtime.lane.submit(
                partial(runtime.read_one, i, deadline, stats))) for i in identifiers]
        with self._lock:
            self._tasks.extend(tasks)
            self._outstanding += len(tasks)
        for task in tasks:
            task.add_done_callback(self._task_done)

    def _task_done(self, task: Future[dict[str, FetchResult]]) -> None:
        """Settle a finished task's identifiers (runs where the task ended); the last task
        of the fetch caches every answer, in one transaction, and gives back the locks."""
        try:
            self._settle_task(task)
        finally:
            with self._lock:
                self._outstanding -= 1
                last = self._outstanding == 0
            if last:
                self._complete()

    def _complete(self) -> None:
        """Cache every answer (one transaction), give back the locks, then settle: a
        caller or a joined thread reading right after finds the value cached."""
        runtime = self._runtime
        with self._lock:
            answers = dict(self._answers)
        try:
            runtime.cache_answers(answers, self._generation, unlock=self._locked)
        finally:
            for identifier, result in answers.items():
                self._settle(identifier, result)

    def _settle_task(self, task: Future[dict[str, FetchResult]]) -> None:
        runtime = self._runtime
        if task.cancelled():
            return  # the caller gave up on it; it answers "timed out"
        error = task.exception()
        if error is not None:  # a task that failed as a whole (no worker thread...)
            reason = error.reason if isinstance(error, StoreError) else type(error).__name__
            answer = dict.fromkeys(runtime.task_identifiers(task),
                                   FetchResult.unavailable(reason))
        else:
            answer = task.result()
        leftovers = [i for i, result in answer.items() if result is LEFT_OUT]
        answered = {i: r for i, r in answer.items() if r is not LEFT_OUT}
        with self._lock:
            self._answers.update(answered)
        if leftovers:  # a batch left them out: read them one at a time
            if runtime.store_type.can(Capability.READ) and not self._done:
                self._submit(leftovers, single=True)
            else:
                unanswered = FetchResult.unavailable(
                    "the store gave no answer for this identifier")
                with self._lock:
                    self._answers.update(dict.fromkeys(leftovers, unanswered))

    def _settle(self, identifier: str, result: FetchResult | None) -> None:
        """Give ``identifier``'s answer to the threads that joined this fetch."""
        future = self._mine.get(identifier)
        if future is None or future.done():
            return
        runtime = self._runtime
        with runtime.inflight_lock:
            if runtime.inflight.get(identifier) is future:
                del runtime.inflight[identifier]
        future.set_result(result)

    # -- collecting ---------------------------------------------------------------------

    def wait(self) -> dict[str, FetchResult]:
        """Every identifier's result, by the deadline at the latest (late ones: unavailable)."""
        if self._done:
            return self._results
        try:
            self._collect()
        finally:
            self._finish()
        return self._results

    def _collect(self) -> None:
        ours = [f for i, f in self._mine.items() if i not in self._elsewhere]
        wait_all(ours, timeout=self._deadline.remaining())
        with self._lock:
            answers = dict(self._answers)
        for identifier, result in answers.items():
            self._results[identifier] = result
            self._sources[identifier] = "store"
        if self._elsewhere:  # another process is fetching these: wait for its answer
            unanswered = self._await_elsewhere(self._elsewhere)
            if unanswered:  # it died or is slow: fetch them here
                fetch = PendingFetch(self._runtime, unanswered, use_cache=False, lock=False,
                                     deadline=self._deadline)
                for identifier, result in fetch.wait().items():
                    self._results[identifier] = result
                    self._sources[identifier] = "store"
        for identifier, future in self._joined.items():
            done, _ = wait_all([future], timeout=self._deadline.remaining())
            answer = future.result() if done else None
            if answer is None and identifier not in self._results:
                # the other fetch gave it to another process: look on disk, then ask
                answer = self._from_elsewhere(identifier)
            if answer is not None:
                self._results[identifier] = answer
                self._sources.setdefault(identifier, "shared")

    def _from_elsewhere(self, identifier: str) -> FetchResult | None:
        if not self._await_elsewhere([identifier]):
            return self._results.get(identifier)
        fetch = PendingFetch(self._runtime, [identifier], use_cache=False, lock=False,
                             deadline=self._deadline)
        return fetch.wait().get(identifier)

    def _await_elsewhere(self, identifiers: list[str]) -> list[str]:
        """Wait (briefly) for another process's answers on disk; return what never came."""
        runtime = self._runtime
        waiting = list(identifiers)
        until = time.monotonic() + min(SHARED_WAIT, self._deadline.remaining())
        while waiting and time.monotonic() < until:
            time.sleep(SHARED_POLL)
            found = runtime.cache.lookup(runtime.scope, self._cache_policy, waiting)
            for identifier, lookup in found.items():
                if lookup.freshness is not Freshness.STALE:
                    self._results[identifier] = result_of(lookup.entry)
                    self._sources[identifier] = "shared"
            waiting = [i for i in waiting if i not in self._results]
        return waiting

    def _finish(self) -> None:
        runtime = self._runtime
        with self._lock:
            self._done = True
            tasks = list(self._tasks)
        for task in tasks:
            task.cancel()  # those not started yet; a running one caches itself when done
        results = self._results
        for identifier in self._identifiers:
            if identifier not in results:
                results[identifier] = FetchResult(Status.UNAVAILABLE,
                                                  message=runtime.timed_out(self._deadline),
                                                  outage=True)
        for identifier in list(self._mine):
            self._settle(identifier, results.get(identifier))
        self._ride_out_outage()
        with self._lock:
            nothing_started = not self._tasks
        if nothing_started and self._locked:
            runtime.cache.unlock(runtime.scope, self._locked)
        if self._background:
            runtime.cache.count({"refresh": sum(1 for s in self._sources.values()
                                                if s == "store")})
        else:
            runtime.cache.count(Counter(self._sources.values()))
        if runtime.plugins.listening:
            runtime.emit("fetch", self._started, self._stats, identifiers=self._identifiers,
                         outcomes={i: results[i].status for i in self._identifiers},
                         cached=frozenset(i for i, s in self._sources.items()
                                          if s in ("memory", "disk", "negative")),
                         sources=self._sources, background=self._background)

    def _ride_out_outage(self) -> None:
        """Serve stale values, within ``staleIfError``, for what an outage left unanswered."""
        runtime = self._runtime
        down = [i for i in self._identifiers if self._results[i].outage]
        if not down or self._background or self._cache_policy.stale_if_error <= 0:
            return
        missing = [i for i in down if i not in self._stale]
        if missing:
            for identifier, found in runtime.cache.lookup(
                    runtime.scope, self._cache_policy, missing).items():
                self._stale[identifier] = found.entry
        now = time.time()
        reason = self._results[down[0]].message
        served: list[float] = []
        for identifier in down:
            entry = self._stale.get(identifier)
            if entry is None or entry.value is None or now >= entry.stale_until(
                    self._cache_policy):
                continue
            self._results[identifier] = FetchResult(
                Status.FOUND, entry.value, version=entry.version, stale=True)
            self._sources[identifier] = "stale"
            served.append(now - entry.fetched_at)
        if served and runtime.warn_stale():
            logger.warning(
                "store '%s' is unavailable (%s); serving %d secret%s from the cache past %s "
                "TTL, fetched up to %.0f s ago (staleIfError: %g s)", runtime.name, reason,
                len(served), "" if len(served) == 1 else "s",
                "its" if len(served) == 1 else "their", max(served),
                self._cache_policy.stale_if_error)
