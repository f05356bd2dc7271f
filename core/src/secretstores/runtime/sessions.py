"""One store's authenticated session: one login at a time, failures remembered briefly.

However many threads need a session, one of them logs in and the others wait
for that login's outcome (up to their own deadline). While a session is being
renewed, threads keep using the current one as long as it has not expired. A
failed login is remembered for a back-off window (1 s, doubling on each
consecutive failure to 15 s, or the store's retry-after when it asked for
more) and reported to every caller at once during it, so a store that rejects
its credentials, or takes long to do so, costs one attempt per window rather
than one per waiting thread. So does a store that refuses even a fresh
session (:meth:`Sessions.refused`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from secretstores import forks
from secretstores.errors import StoreError, StoreUnavailableError, ThrottledError, clone_error
from secretstores.model import Session
from secretstores.runtime.retry import Deadline

logger = logging.getLogger(__name__)

#: The first back-off window after a failed login, in seconds.
INITIAL_BACKOFF = 1.0
#: The longest back-off window, in seconds (unless the store asked for longer).
MAX_BACKOFF = 15.0


class ProviderFailure(StoreUnavailableError):
    """Something a hook raised that is not a :class:`StoreError`: a provider that did
    not say what happened. Unavailable, but never an outage: a stale value must not
    paper over what may be a refused login or a bug."""


def _expired(session: Session) -> bool:
    return session.expires_at is not None and time.time() >= session.expires_at


class _Login:
    """One login in progress and, once done, its outcome."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.session: Session | None = None
        self.error: StoreError | None = None


class Sessions:
    """The session of one store, and the single-flight login that makes it.

    :param login: makes one login (with its own retries) within a deadline.
    :param login_deadline: seconds one login may take: its own, not the caller's,
        since every waiting caller shares its outcome.
    """

    def __init__(self, store: str, login: Callable[[Deadline], Session],
                 login_deadline: float = 10.0) -> None:
        self.store = store
        self._login = login
        self._login_deadline = login_deadline
        self._reset()
        forks.register(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._since = 0.0  # when the session was made (epoch seconds)
        self._inflight: _Login | None = None
        self._failure: tuple[StoreError, float, float] | None = None  # error, when, until
        self._backoff = INITIAL_BACKOFF
        self._epoch = 0  # advanced by drop(): a login finishing after it is discarded
        #: Login attempts made (for tests and events).
        self.attempts = 0

    def _after_fork(self) -> None:
        # The parent's session is dropped, never closed: its connections are the
        # parent's too. The child logs in again on first use.
        self._reset()

    @property
    def current(self) -> Session | None:
        """The session in use, if any."""
        return self._session

    def _due(self, session: Session) -> bool:
        """Whether ``session`` should be renewed: ``renew_before`` its expiry, but never
        before half its life (a token living less than ``renew_before`` is not renewed
        on every use)."""
        if session.expires_at is None:
            return False
        now = time.time()
        half_life = self._since + (session.expires_at - self._since) / 2
        return now >= max(session.expires_at - session.renew_before, half_life)

    def get(self, deadline: Deadline, *, stale: Session | None = None) -> Session:
        """A usable session: the current one, or the outcome of one (shared) login.

        :param stale: a session the store just refused (Unauthorized): log in again
            unless another thread already replaced it.
        """
        with self._lock:
            session = self._session
            usable = session is not None and session is not stale and not _expired(session)
            if usable and not self._due(session):  # type: ignore[arg-type]
                return session  # type: ignore[return-value]
            if self._failure is not None:
                error, when, until = self._failure
                now = time.monotonic()
                if now < until:
                    if usable:
                        return session  # type: ignore[return-value]
                    raise _remembered(error, now - when, until - now)
            login = self._inflight
            if login is not None and usable:
                return session  # type: ignore[return-value]  # renewal in progress
            leader = login is None
            if login is None:
                login = self._inflight = _Login()
                self.attempts += 1
                epoch = self._epoch
        if not leader:
            if not login.done.wait(deadline.remaining()):
                raise StoreUnavailableError(
                    f"timed out after {deadline.seconds:g} s waiting for the login in progress",
                    store=self.store)
            if login.error is not None:
                raise clone_error(login.error)
            assert login.session is not None
            return login.session
        return self._lead(login, epoch, stale)

    def _lead(self, login: _Login, epoch: int, stale: Session | None) -> Session:
        try:
            new = self._login(Deadline.after(self._login_deadline))
        except BaseException as exc:
            error = exc if isinstance(exc, StoreError) else ProviderFailure(
                f"login failed: {type(exc).__name__}", store=self.store)
            with self._lock:
                window = self._backoff
                if isinstance(error, ThrottledError) and error.retry_after:
                    window = max(window, error.retry_after)
                now = time.monotonic()
                self._failure = (error, now, now + window)
                self._backoff = min(self._backoff * 2, MAX_BACKOFF)
                self._inflight = None
                current = self._session
            login.error = error
            login.done.set()
            if current is not None and current is not stale and not _expired(current):
                logger.warning("store '%s': renewing the session failed; the current one "
                               "still works until it expires: %s", self.store, error.reason)
                return current
            raise
        with self._lock:
            closed = epoch != self._epoch
            if not closed:
                self._session, self._since = new, time.time()
                self._failure = None
                self._backoff = INITIAL_BACKOFF
                self._inflight = None
        if closed:  # the store was closed while this login ran: nobody may use it
            if new.close is not None:
                new.close()
            login.error = StoreUnavailableError("the store was closed during its login",
                                                store=self.store)
            login.done.set()
            raise clone_error(login.error)
        login.session = new
        login.done.set()
        return new

    def refused(self, error: StoreError) -> None:
        """The store refused even a fresh session: drop it and remember ``error`` for a
        back-off window, so the next calls fail at once instead of logging in again."""
        with self._lock:
            now = time.monotonic()
            self._session = None
            self._failure = (error, now, now + self._backoff)
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)

    def drop(self) -> Session | None:
        """Forget the current session (and any remembered failure); return it."""
        with self._lock:
            session, self._session = self._session, None
            self._failure = None
            self._backoff = INITIAL_BACKOFF
            self._inflight = None
            self._epoch += 1
            return session


def _remembered(error: StoreError, ago: float, left: float) -> StoreError:
    clone = clone_error(error)
    clone.reason = (f"{error.reason} (this login failed {ago:.1f} s ago; the next attempt "
                    f"is allowed in {left:.1f} s)")
    clone.args = (f"store '{error.store}': {clone.reason}" if error.store else clone.reason,)
    return clone
