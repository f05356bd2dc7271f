"""Keep secret values and credentials out of the Google libraries' DEBUG logs.

With DEBUG logging on for the ``google`` loggers (``GOOGLE_SDK_PYTHON_LOGGING_SCOPE``,
or an application configuring them), the client's REST transport logs every
request and response payload as structured ``extra`` fields (an
``AccessSecretVersion`` answer holds the value, base64; an
``AddSecretVersion`` request too), and google-auth logs each request's headers
(the ``Authorization: Bearer`` token) and the token request's body (the signed
JWT assertion, exchangeable for a token for up to an hour). :func:`install`
adds a filter to those loggers that replaces such fields with a placeholder;
the rest of each record (method, URL, status) is kept.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

#: What a hidden payload, body or credential header is replaced with.
PLACEHOLDER = "<hidden by secretstores-gcp>"
LOGGERS = (
    "google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest",
    "google.cloud.secretmanager_v1.services.secret_manager_service.client",
    "google.auth.transport.requests",
)
_HIDDEN = {"payload", "body", "data", "authorization", "assertion",
           "x-goog-iam-authorization-token"}
_FIELDS = ("httpRequest", "httpResponse", "request", "response")
_installed = False
_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # A fork while another thread held the lock would leave the child's copy held.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def scrub(value: Any) -> Any:
    """``value`` with every payload, body and credential header replaced (a copy)."""
    if isinstance(value, dict):
        return {key: PLACEHOLDER if str(key).lower() in _HIDDEN else scrub(item)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


class RedactPayloads(logging.Filter):
    """Replace payloads, bodies and credentials in the structured fields of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                setattr(record, name, scrub(value))
        return True


def install() -> None:
    """Add :class:`RedactPayloads` to the Google loggers that log payloads (once)."""
    global _installed
    with _lock:
        if _installed:
            return
        redact = RedactPayloads()
        for name in LOGGERS:
            logging.getLogger(name).addFilter(redact)
        _installed = True
