"""The worker threads every store shares, and each store's lane into them.

One :class:`WorkerPool` per process runs every store's I/O: reads fanned out,
batches, logins, writes. A thread starts when a task arrives and fewer threads
are idle than tasks are queued, and ends after a minute without work. They are
daemon threads, so a store that never answers cannot keep the process alive
after the caller gave up on it.

Each store reaches the pool through a :class:`Lane` that lets at most
``limit`` of its tasks run at once; the rest wait in the lane, not in the
pool. The pool may run as many threads as the live lanes' limits add up to
(at least :data:`MIN_WORKERS`), so even when every other store hangs with all
its requests in flight, a store still gets its own share: a slow or dead store
never takes the workers other stores need.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from secretstores import forks
from secretstores.errors import StoreUnavailableError

T = TypeVar("T")

#: Threads the pool may always run, whatever the lanes' limits add up to.
MIN_WORKERS = 32
#: The most threads the pool ever runs (a safety bound on absurd configurations).
MAX_WORKERS = 4096
#: Seconds an idle worker waits for work before it ends.
IDLE_TIMEOUT = 60.0


class WorkerPool:
    """Daemon worker threads started on demand, shared by every store of the process."""

    def __init__(self, idle_timeout: float = IDLE_TIMEOUT, min_workers: int = MIN_WORKERS
                 ) -> None:
        self.idle_timeout = idle_timeout
        self.min_workers = min_workers
        self._capacity = 0  # the sum of the live lanes' limits
        self._reset()
        forks.register(self)

    def _reset(self) -> None:
        self._tasks: deque[Callable[[], None]] = deque()
        self._condition = threading.Condition(threading.Lock())
        self._threads = 0
        self._idle = 0
        self._started = 0

    def _after_fork(self) -> None:
        self._reset()  # the parent's threads do not exist here; the lanes' shares stay

    @property
    def threads(self) -> int:
        """How many worker threads are alive."""
        return self._threads

    @property
    def max_workers(self) -> int:
        """The most threads the pool runs now: the lanes' limits added up, bounded."""
        return min(MAX_WORKERS, max(self.min_workers, self._capacity))

    def reserve(self, share: int) -> None:
        """Add a lane's limit to the threads the pool may run."""
        with self._condition:
            self._capacity += share

    def release(self, share: int) -> None:
        """Take a lane's limit back (the lane is gone)."""
        with self._condition:
            self._capacity -= share

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` on a worker thread (it must not raise).

        :raises RuntimeError: no thread could be started and none is alive to take it.
        """
        with self._condition:
            self._tasks.append(task)
            if len(self._tasks) <= self._idle or self._threads >= self.max_workers:
                self._condition.notify()  # an idle worker takes it, or the next free one
                return
            self._threads += 1
            self._started += 1
            name = f"secretstores-worker-{self._started}"
        try:
            threading.Thread(target=self._work, name=name, daemon=True).start()
        except BaseException:
            with self._condition:
                self._threads -= 1
                if self._threads == 0 and task in self._tasks:
                    self._tasks.remove(task)  # nobody would ever run it
                    raise
                # another worker will take it when it is free

    def _work(self) -> None:
        condition = self._condition
        while True:
            with condition:
                while not self._tasks:
                    self._idle += 1
                    notified = condition.wait(self.idle_timeout)
                    self._idle -= 1
                    if not notified and not self._tasks:
                        self._threads -= 1  # a minute without work
                        return
                task = self._tasks.popleft()
            task()


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def shared_pool() -> WorkerPool:
    """The process's worker pool."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = WorkerPool()
    return _pool


def _reset_module_lock() -> None:
    global _pool_lock
    _pool_lock = threading.Lock()


forks.register_function(_reset_module_lock)


class Lane:
    """One store's share of the pool: at most ``limit`` of its tasks run at once."""

    def __init__(self, limit: int, pool: WorkerPool | None = None) -> None:
        self.limit = max(1, limit)
        self._pool = pool or shared_pool()
        self._pool.reserve(self.limit)
        weakref.finalize(self, self._pool.release, self.limit)
        self._reset()
        forks.register(self)

    def _reset(self) -> None:
        self._waiting: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._running = 0
        self._lock = threading.Lock()

    def _after_fork(self) -> None:
        self._reset()

    @property
    def running(self) -> int:
        """How many of this lane's tasks are running (or stuck) on workers."""
        return self._running

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` when the lane has room; its future can be cancelled until it starts."""
        future: Future[T] = Future()
        with self._lock:
            if self._running >= self.limit:
                self._waiting.append((fn, future))
                return future
            self._running += 1
        self._start(fn, future)
        return future

    def _start(self, fn: Callable[[], Any], future: Future[Any]) -> None:
        try:
            self._pool.submit(lambda: self._run(fn, future))
        except BaseException as exc:  # no thread could start: give the slot back, say why
            with self._lock:
                self._running -= 1
            future.set_exception(StoreUnavailableError(
                f"no worker thread could be started ({type(exc).__name__})"))

    def _run(self, fn: Callable[[], Any], future: Future[Any]) -> None:
        while True:
            if future.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._lock:
                if not self._waiting:
                    self._running -= 1
                    return
                fn, future = self._waiting.popleft()
