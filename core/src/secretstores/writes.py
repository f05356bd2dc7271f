"""Recognising a retried write, for providers whose store has no idempotency token.

The core gives every write a ``request_id``, the same on each retry of it (see the
``secretstores_store`` hook). A provider that cannot send it to its store (GCP
Secret Manager, Azure Key Vault, Infisical) asks :class:`WriteAttempts` whether an
attempt is the first; on a retry it reads the current value first and writes
nothing when it already holds the value, so a write whose answer was lost never
makes a second version, and first attempts never pay that read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from secretstores import forks


class WriteAttempts:
    """The request ids of the writes this process attempted (the last ``remembered``)."""

    def __init__(self, remembered: int = 4096) -> None:
        self.remembered = remembered
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        forks.register(self)

    def __repr__(self) -> str:
        return f"WriteAttempts(remembered={self.remembered})"

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # the parent may have held it while forking

    def first(self, request_id: str) -> bool:
        """Whether this is the first attempt of write ``request_id`` (it is remembered)."""
        with self._lock:
            if request_id in self._seen:
                self._seen.move_to_end(request_id)
                return False
            self._seen[request_id] = None
            while len(self._seen) > self.remembered:
                self._seen.popitem(last=False)
            return True
