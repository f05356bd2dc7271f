"""Keep the Azure SDKs' log records where the application's logging puts them.

azure-identity logs a WARNING for every token request that fails (Microsoft
Entra ID's message, with trace and correlation ids); the store's error already
says the same, once. An application without logging configured would see each
on stderr through Python's last-resort handler (the ``secretstores`` command
configures only its own logger). :func:`install` gives the ``azure`` logger a
:class:`logging.NullHandler`, as libraries do: records still propagate to any
handler the application configures.

Nothing the SDKs log holds a value or a credential: azure-core's HTTP logging
names URLs and allow-listed headers (``Authorization`` is redacted) and never
bodies (the clients are built with ``logging_enable=False``); the tests check it
at DEBUG level with canary values.
"""

from __future__ import annotations

import logging
import os
import threading

_installed = False
_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # A fork while another thread held the lock would leave the child's copy held.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def install() -> None:
    """Add a :class:`logging.NullHandler` to the ``azure`` logger (once per process)."""
    global _installed
    with _lock:
        if not _installed:
            logging.getLogger("azure").addHandler(logging.NullHandler())
            _installed = True
