"""WriteAttempts: how providers without an idempotency token recognise a retried write."""

from __future__ import annotations

import os
import threading

import pytest

from secretstores.writes import WriteAttempts


def test_only_the_first_attempt_of_a_write_is_first() -> None:
    attempts = WriteAttempts()
    assert attempts.first("w1") is True
    assert attempts.first("w1") is False  # the core retried it
    assert attempts.first("w2") is True


def test_it_remembers_the_most_recent_writes_only() -> None:
    attempts = WriteAttempts(remembered=3)
    for request_id in ("a", "b", "c"):
        assert attempts.first(request_id)
    assert not attempts.first("a")  # seen again: now the most recent
    assert attempts.first("d")  # "b" is forgotten, "a" is not
    assert not attempts.first("a") and attempts.first("b")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_held_it_can_use_it() -> None:
    attempts = WriteAttempts()
    attempts._lock.acquire()  # another thread is inside first() at the moment of fork
    try:
        pid = os.fork()
        if pid == 0:  # the child: must not block on the parent's held lock
            done = threading.Event()
            threading.Thread(target=lambda: (attempts.first("x"), done.set())).start()
            os._exit(0 if done.wait(10) else 1)
    finally:
        attempts._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
