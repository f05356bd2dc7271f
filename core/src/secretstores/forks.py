"""Fork safety: objects that hold threads, locks or connections start afresh in a child.

A process that forks after using a :class:`~secretstores.SecretStores`
(gunicorn ``--preload``, celery prefork, ``multiprocessing`` with fork) keeps
the parent's objects but not its threads: a lock another thread held stays
locked forever, a pool waits on workers that do not exist, and a connection
would be shared with the parent. Objects registered here get their
``_after_fork()`` called in the child, before anything else runs there.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Protocol


class ForkAware(Protocol):
    """An object that resets its threads, locks and connections in a forked child."""

    def _after_fork(self) -> None: ...


_objects: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_functions: list[Callable[[], None]] = []
_lock = threading.Lock()


def register(obj: ForkAware) -> None:
    """Call ``obj._after_fork()`` in every child this process forks from now on."""
    with _lock:
        _objects.add(obj)


def register_function(function: Callable[[], None]) -> None:
    """Call ``function()`` in every child (to reset a module's own locks)."""
    with _lock:
        _functions.append(function)


def _reset_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the parent may have held it while forking
    for function in list(_functions):
        function()
    for obj in list(_objects):
        obj._after_fork()


os.register_at_fork(after_in_child=_reset_in_child)


class ForkLock:
    """A lock that a fork waits for: taken just before ``os.fork()`` and given back just
    after, in the parent and in the child, so no thread is halfway through what it guards
    (an SQLite transaction, whose lock state a child would inherit and never see end)
    when the child starts.

    :param wait: the longest a fork waits for the lock, in seconds; past it the fork goes
        on, and :attr:`clean` is False in the child.
    """

    def __init__(self, wait: float) -> None:
        self._lock = threading.Lock()
        self._wait = wait
        self._taken = False
        #: In a child: whether the lock was free (and taken) when the process forked.
        self.clean = True
        os.register_at_fork(before=self._before, after_in_parent=self._after_in_parent,
                            after_in_child=self._after_in_child)

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting at most ``timeout`` seconds; True when taken."""
        return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        """Give the lock back."""
        self._lock.release()

    def _before(self) -> None:
        self._taken = self._lock.acquire(timeout=self._wait)
        self.clean = self._taken  # read in the child by the objects' _after_fork()

    def _after_in_parent(self) -> None:
        self.clean = True
        if self._taken:
            self._lock.release()

    def _after_in_child(self) -> None:
        # taken by the forking thread, or held by a thread that does not exist here
        self._lock = threading.Lock()
