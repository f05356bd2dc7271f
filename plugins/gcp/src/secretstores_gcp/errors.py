"""Classifying Secret Manager's answers for the core: throttled, transient, unauthorized, ...

The client's own retries are off (every call passes ``retry=None``): this
plugin makes one attempt per hook call and the core retries, with one policy
for every store. :func:`call` makes one request and turns the failures the
core acts on into its exceptions:

- ``RESOURCE_EXHAUSTED`` into :class:`~secretstores.errors.ThrottledError`
  (with the ``RetryInfo`` delay when Google gives one);
- ``UNAVAILABLE``, ``INTERNAL``, ``DEADLINE_EXCEEDED``, refused or reset
  connections and timeouts into :class:`~secretstores.errors.TransientError`;
- ``UNAUTHENTICATED`` into :class:`~secretstores.errors.Unauthorized` (the
  core logs in again and retries once);
- a disabled API, an unknown project, missing OAuth scopes, and answers that
  are not Google API answers at all (a web server's 404 page) into
  :class:`~secretstores.errors.MisconfiguredError`.

Any other API error (``NOT_FOUND``, ``PERMISSION_DENIED``,
``FAILED_PRECONDITION``, ``ALREADY_EXISTS``...) is raised as
:class:`ApiFailure` for the caller to map. Messages name the operation, the
canonical status and Google's message (which names resources, never values).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from secretstores.errors import (
    MisconfiguredError,
    StoreUnavailableError,
    ThrottledError,
    TransientError,
    Unauthorized,
)

T = TypeVar("T")

#: Canonical statuses worth another try (besides RESOURCE_EXHAUSTED, which is throttling).
TRANSIENT = frozenset({"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED"})
#: ErrorInfo reasons of PERMISSION_DENIED that mean the store is set up wrong, not refused.
MISCONFIGURED_REASONS = {
    "SERVICE_DISABLED": "the Secret Manager API is not enabled in the project",
    "CONSUMER_INVALID": "the project does not exist (or these credentials may not use it)",
    "BILLING_DISABLED": "billing is disabled for the project",
    "ACCESS_TOKEN_SCOPE_INSUFFICIENT": "the credentials' OAuth scopes do not include "
                                       "cloud-platform (on Compute Engine, give the VM "
                                       "that scope)",
}
_DELAY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)s$")


@attrs.frozen
class GoogleError:
    """A Google API error answer: HTTP status, canonical status, message, ErrorInfo."""

    http_status: int
    status: str
    message: str
    reason: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" if self.message else self.status


class ApiFailure(Exception):
    """An API error :func:`call` leaves to its caller (not found, denied, ...)."""

    def __init__(self, operation: str, error: GoogleError) -> None:
        super().__init__(f"{operation}: {error}")
        self.operation = operation
        self.error = error

    @property
    def status(self) -> str:
        """The canonical status (``NOT_FOUND``, ``PERMISSION_DENIED``...)."""
        return self.error.status


def _retry_delay(details: Any, headers: Any) -> float | None:
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("rpc.RetryInfo"):
            found = _DELAY.match(str(detail.get("retryDelay", "")))
            if found:
                return float(found.group(1))
    header = headers.get("Retry-After") if headers is not None else None
    if header and str(header).replace(".", "", 1).isdigit():
        return float(header)
    return None


def parse_error(response: Any) -> GoogleError | None:
    """Google's JSON error body of an HTTP response, or None when it is not one."""
    try:
        payload = json.loads(response.content)
    except (ValueError, TypeError, AttributeError):
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("status"), str):
        return None
    details = error.get("details") or []
    info = next((d for d in details if isinstance(d, dict)
                 and str(d.get("@type", "")).endswith("rpc.ErrorInfo")), {})
    metadata = info.get("metadata") if isinstance(info.get("metadata"), dict) else {}
    return GoogleError(
        http_status=int(getattr(response, "status_code", 0) or 0), status=error["status"],
        message=str(error.get("message") or ""), reason=info.get("reason"),
        metadata={str(k): str(v) for k, v in (metadata or {}).items()},
        retry_after=_retry_delay(details, getattr(response, "headers", None)))


def network_reason(exc: BaseException) -> str:
    """A short reason for a failed connection: the innermost OS error, or the type."""
    import requests
    import urllib3.exceptions

    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # (a ConnectTimeoutError)
        pass  # the OS error below says why: refused, unreachable, unknown host
    elif isinstance(exc, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError):
        return "timed out"
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TimeoutError):
            return "timed out"
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror)
        if type(current).__name__ == "RemoteDisconnected":
            return "the connection was closed without an answer"
        pending += [a for a in current.args if isinstance(a, BaseException)]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return type(exc).__name__


def classify(operation: str, exc: BaseException, endpoint: str) -> Exception:
    """The exception to raise for ``exc``, raised by one SDK call of ``operation``."""
    import requests
    import urllib3.exceptions
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    if isinstance(exc, api_exceptions.GoogleAPICallError):
        response = getattr(exc, "response", None)
        error = parse_error(response) if response is not None else None
        if error is None:
            return _not_google(operation, int(exc.code or 0), endpoint)
        return for_status(operation, error)
    if isinstance(exc, auth_exceptions.RefreshError):
        if getattr(exc, "retryable", False):
            return TransientError(f"{operation}: refreshing the access token failed: {exc}")
        return Unauthorized(f"{operation}: the access token could not be refreshed: {exc}")
    if isinstance(exc, requests.exceptions.RequestException | auth_exceptions.TransportError
                  | urllib3.exceptions.HTTPError | OSError):
        return TransientError(f"{operation}: cannot reach {endpoint}: {network_reason(exc)}")
    if type(exc).__name__ == "ParseError":  # protobuf's json_format: a 200 that is not an answer
        return MisconfiguredError(f"{operation}: {endpoint} answered with something other than "
                                  "a Secret Manager answer (is 'endpoint' a Secret Manager "
                                  "endpoint?)")
    return StoreUnavailableError(f"{operation} failed: {type(exc).__name__}")


def _not_google(operation: str, code: int, endpoint: str) -> Exception:
    text = f"{operation}: {endpoint} answered HTTP {code} without a Google API error"
    if code == 429:
        return ThrottledError(text)
    if code in (500, 502, 503, 504):
        return TransientError(text)
    return MisconfiguredError(f"{text} (is 'endpoint' a Secret Manager endpoint?)")


def for_status(operation: str, error: GoogleError) -> Exception:
    """The exception for a Google error answer (:class:`ApiFailure` for the caller's ones)."""
    text = f"{operation}: {error}"
    if error.status == "UNAUTHENTICATED":
        return Unauthorized(text)
    if error.status == "RESOURCE_EXHAUSTED":
        return ThrottledError(text, retry_after=error.retry_after)
    if error.status in TRANSIENT:
        return TransientError(text)
    if error.status == "PERMISSION_DENIED" and error.reason in MISCONFIGURED_REASONS:
        return MisconfiguredError(f"{MISCONFIGURED_REASONS[error.reason]}: {text}")
    return ApiFailure(operation, error)


def call(operation: str, function: Callable[..., T], endpoint: str, timeout: float,
         **params: Any) -> T:
    """Call ``function(**params)`` (a client method) once, without the SDK's retries.

    :raises Unauthorized: the access token was refused (expired, revoked).
    :raises ThrottledError: Google asked to slow down (``RESOURCE_EXHAUSTED``).
    :raises TransientError: a server-side failure worth another try, or a
        network failure (refused, reset, timed out).
    :raises MisconfiguredError: the endpoint, project or API set-up is wrong.
    :raises StoreUnavailableError: any other failure of the client.
    :raises ApiFailure: any other API error, for the caller to map.
    """
    try:
        return function(**params, retry=None, timeout=timeout)
    except Exception as exc:
        raise classify(operation, exc, endpoint) from None
