"""Keep secret values out of botocore's DEBUG logs.

At DEBUG level botocore logs every request's parameters (``botocore.endpoint``:
the ``PutSecretValue`` body holds the value) and every response body
(``botocore.parsers``: ``GetSecretValue`` answers hold it, ``AssumeRole``
answers hold credentials). :func:`install` adds a filter to those two loggers
that replaces such bodies with a placeholder; other records pass untouched.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

#: What a hidden body is replaced with.
PLACEHOLDER = "<body hidden by secretstores-aws>"
_MARKERS = (b"SecretString", b"SecretBinary", b"SecretAccessKey", b"SessionToken")
_SERVICES = {"secretsmanager", "sts"}
_installed = False
_lock = threading.Lock()


def _sensitive(body: Any) -> bool:
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    return isinstance(body, bytes | bytearray) and any(m in body for m in _MARKERS)


class RedactBodies(logging.Filter):
    """Replace request and response bodies that may hold secrets in botocore's records."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple):
            return True
        if record.name == "botocore.parsers" and len(args) == 1 and _sensitive(args[0]):
            record.args = (PLACEHOLDER,)
        elif record.name == "botocore.endpoint" and len(args) == 2:
            operation, request = args
            service = getattr(getattr(operation, "service_model", None), "endpoint_prefix", None)
            if isinstance(request, dict) and (service in _SERVICES or
                                              _sensitive(request.get("body"))):
                record.args = (operation, {**request, "body": PLACEHOLDER})
        return True


def install() -> None:
    """Add :class:`RedactBodies` to botocore's loggers (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        redact = RedactBodies()
        for name in ("botocore.parsers", "botocore.endpoint"):
            logging.getLogger(name).addFilter(redact)
        _installed = True
