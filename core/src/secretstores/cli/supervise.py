"""Running a child as a supervisor: signals forwarded, its status returned, its output
masked, and (for ``run --watch``) restarted or signalled when its secrets change.

Linux-specific detail: the forwarded signals (and SIGCHLD) are blocked in the
supervisor *before* any thread starts, so every thread of this process inherits
the block and only :func:`signal.sigtimedwait` in the main thread takes them.
That gives each signal's origin: one the terminal sent (Ctrl-C, Ctrl-\\) already
reached the child, which shares our process group, and is not sent a second
time; one sent with ``kill`` is forwarded. Where ``sigtimedwait`` does not exist
(macOS), ordinary handlers forward every signal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from secretstores.cli.masking import Masker, pump
from secretstores.errors import SecretStoresError

logger = logging.getLogger("secretstores")

#: The signals forwarded to the child.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2)
#: ``si_code`` of a signal the kernel generated (a terminal's Ctrl-C, a hangup).
SI_KERNEL = 0x80
#: Signals whose disposition the child gets back to default (Python ignores the last two).
_DEFAULTS = {*FORWARDED, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ}
#: Seconds the output of a child that has exited is still copied (a background
#: grandchild may hold its pipes open for ever).
DRAIN_GRACE = 2.0
#: Seconds a child asked to stop (for a restart) has before it is killed.
STOP_TIMEOUT = 10.0


def block_signals() -> set[int] | None:
    """Block the forwarded signals and SIGCHLD in this thread (call it before any
    thread starts); return the mask to restore in the child, or None where the
    supervisor falls back to handlers."""
    if not hasattr(signal, "sigtimedwait"):
        return None
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, {*FORWARDED, signal.SIGCHLD}))


def pending_signal() -> int | None:
    """A forwarded signal that arrived before the child started (it was meant for us)."""
    pending = signal.sigpending()
    return next((int(s) for s in FORWARDED if s in pending), None)


def exit_status(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128+N for signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1


class Supervisor:
    """One child at a time, started from ``command`` and an environment.

    :param mask: the signal mask to give the child (from :func:`block_signals`).
    :param masker: when given, the child's stdout and stderr go through it.
    """

    def __init__(self, command: Sequence[str], *, mask: set[int] | None,
                 masker: Masker | None) -> None:
        self.command = list(command)
        self.mask = mask
        self.masker = masker
        self.pid: int | None = None
        self._pumps: list[threading.Thread] = []

    def start(self, environment: Mapping[str, str]) -> None:
        """Start the child; raise :class:`SecretStoresError` if it cannot be run."""
        actions: list[tuple[int, int, int]] = []
        reads: list[tuple[int, int]] = []
        writes: list[int] = []
        if self.masker is not None:
            for target in (1, 2):
                read, write = os.pipe()
                actions.append((os.POSIX_SPAWN_DUP2, write, target))
                reads.append((read, target))
                writes.append(write)
        try:
            self.pid = os.posix_spawnp(
                self.command[0], self.command, dict(environment), file_actions=actions,
                setsigmask=self.mask if self.mask is not None else (),
                setsigdef=_DEFAULTS)
        except OSError as exc:
            for read, _ in reads:
                os.close(read)
            raise SecretStoresError(f"cannot run {self.command[0]}: "
                                    f"{exc.strerror or type(exc).__name__}") from None
        finally:
            for write in writes:
                os.close(write)
        if self.masker is not None:
            for read, target in reads:
                thread = threading.Thread(target=pump, args=(read, target, self.masker.stream()),
                                          name=f"secretstores-mask-{target}", daemon=True)
                thread.start()
                self._pumps.append(thread)

    def send(self, signum: int) -> None:
        """Send ``signum`` to the child (if it is still there)."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def reap(self) -> int | None:
        """The child's exit status (shell style) if it has ended, else None."""
        if self.pid is None:
            return None
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid == 0:
            return None
        self.pid = None
        return exit_status(status)

    def drain(self) -> None:
        """Wait (a little) for the ended child's output to be copied."""
        deadline = time.monotonic() + DRAIN_GRACE
        for thread in self._pumps:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._pumps = [thread for thread in self._pumps if thread.is_alive()]


Poll = Callable[[], "dict[str, str] | None"]


def supervise(supervisor: Supervisor, environment: Mapping[str, str], *,
              poll: Poll | None = None, interval: float = 60.0,
              reload_signal: int | None = None) -> int:
    """Run the child until it ends; return its status (128+N for signal N).

    With ``poll``, every ``interval`` seconds ``poll()`` gives the environment
    again (None when it did not change or could not be rendered): then the
    child gets ``reload_signal``, or, without one, is stopped (SIGTERM, SIGKILL
    after :data:`STOP_TIMEOUT`) and started again with the new environment.
    """
    if supervisor.mask is None:
        return _supervise_with_handlers(supervisor, environment, poll, interval,
                                        reload_signal)
    waited = {*FORWARDED, signal.SIGCHLD}
    supervisor.start(environment)
    next_poll = time.monotonic() + interval
    restarting: dict[str, str] | None = None
    stop_deadline = 0.0
    exiting = False
    while True:
        wake = next_poll if poll is not None else time.monotonic() + 1.0
        if restarting is not None:
            wake = min(wake, stop_deadline)
        # at most a second: SIGCHLD may be lost (a grandchild's), the status is not
        timeout = min(1.0, max(0.05, wake - time.monotonic()))
        info = signal.sigtimedwait(waited, timeout)
        if info is not None and info.si_signo != signal.SIGCHLD:
            name = signal.Signals(info.si_signo).name
            if info.si_code == SI_KERNEL:  # the terminal sent it to the child already
                logger.debug("%s came from the terminal: the child has it already", name)
            else:
                logger.debug("forwarding %s to the child", name)
                supervisor.send(info.si_signo)
            # a request to stop: no restart (and no poll) from now on; but Ctrl-C on a
            # terminal may be for an interactive child that goes on
            if info.si_signo == signal.SIGTERM or (
                    info.si_signo in (signal.SIGINT, signal.SIGQUIT)
                    and info.si_code != SI_KERNEL):
                exiting = True
        status = supervisor.reap()
        if status is not None:
            supervisor.drain()
            if restarting is None or exiting:
                return status
            supervisor.start(restarting)
            restarting = None
            continue
        now = time.monotonic()
        if restarting is not None and now >= stop_deadline:
            supervisor.send(signal.SIGKILL)
            stop_deadline = now + STOP_TIMEOUT
        if poll is not None and now >= next_poll and not exiting:
            next_poll = now + interval
            changed = poll()
            if changed is not None:
                if reload_signal is not None:
                    supervisor.send(reload_signal)
                elif restarting is None:
                    supervisor.send(signal.SIGTERM)
                    stop_deadline = time.monotonic() + STOP_TIMEOUT
                    restarting = changed
                else:
                    restarting = changed


def _supervise_with_handlers(supervisor: Supervisor, environment: Mapping[str, str],
                             poll: Poll | None, interval: float,
                             reload_signal: int | None) -> int:
    """Where there is no ``sigtimedwait``: handlers forward every signal."""
    for signum in FORWARDED:
        signal.signal(signum, lambda signum, frame: supervisor.send(signum))
    supervisor.start(environment)
    next_poll = time.monotonic() + interval
    while True:
        status = supervisor.reap()
        if status is not None:
            supervisor.drain()
            return status
        time.sleep(0.05)
        if poll is not None and time.monotonic() >= next_poll:
            next_poll = time.monotonic() + interval
            changed = poll()
            if changed is not None:
                if reload_signal is not None:
                    supervisor.send(reload_signal)
                else:  # restart
                    supervisor.send(signal.SIGTERM)
                    while supervisor.reap() is None:
                        time.sleep(0.05)
                    supervisor.drain()
                    supervisor.start(changed)
