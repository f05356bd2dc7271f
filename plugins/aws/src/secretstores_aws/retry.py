"""Classifying AWS errors and retrying the transient ones with jittered exponential backoff.

botocore's own retries are turned off for our clients (``max_attempts: 1``) so
that one policy, this one, decides: throttling and transient server or network
errors are retried up to :attr:`RetryPolicy.attempts` times with "full jitter"
backoff; expired or unknown credentials raise
:class:`~secretstores.errors.Unauthorized` so the core authenticates again;
anything else is returned to the caller to map. Messages name the operation,
the error code and AWS's message, never a secret value.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from secretstores.errors import StoreUnavailableError, Unauthorized

T = TypeVar("T")

#: Error codes that mean "slow down"; AWS answers them with HTTP 400 or 429.
THROTTLING_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException",
    "SlowDown",
})
#: Error codes of server-side failures worth another try.
TRANSIENT_CODES = frozenset({
    "InternalServiceError", "InternalServiceErrorException", "InternalFailure",
    "InternalError", "ServiceUnavailable", "ServiceUnavailableException",
    "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
})
#: Error codes that mean the credentials expired or are not (or no longer) known.
UNAUTHORIZED_CODES = frozenset({
    "ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException",
    "InvalidClientTokenId",
})
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


@attrs.frozen
class RetryPolicy:
    """How often and how patiently to retry: ``attempts`` tries in all.

    Before try *n* + 1 the caller sleeps a random time between 0 and
    ``min(cap, base * 2**n)`` seconds (AWS's "full jitter"), so the defaults
    wait at most 0.1 + 0.2 + 0.4 + 0.8 = 1.5 seconds over five tries.
    """

    attempts: int = 5
    base: float = 0.1
    cap: float = 5.0

    def delay(self, retry: int) -> float:
        """Seconds to sleep before retry number ``retry`` (1 for the first retry)."""
        return random.uniform(0, min(self.cap, self.base * 2 ** (retry - 1)))


DEFAULT_POLICY = RetryPolicy()


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (None for other exceptions).

    An HTTP 403 whose body botocore could not parse (a gateway's or an
    emulator's XML page) counts as ``AccessDeniedException``.
    """
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code and str(code).isdigit() and _status(exc) == 403:
            return "AccessDeniedException"
        return str(code) if code else None
    return None


def error_message(exc: BaseException) -> str:
    """AWS's own message for a ``ClientError`` (it names resources, never values)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Message") or "")
    return str(exc)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status else None
    return None


def describe(exc: BaseException) -> str:
    """``Code: message`` for a ``ClientError``, ``Type: text`` for anything else."""
    code = error_code(exc)
    if code is not None:
        message = error_message(exc)
        return f"{code}: {message}" if message else code
    return f"{type(exc).__name__}: {exc}"


def _transient(exc: BaseException) -> bool:
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ConnectTimeoutError
                  | ReadTimeoutError | ResponseStreamingError):
        return True
    code = error_code(exc)
    if code in THROTTLING_CODES or code in TRANSIENT_CODES:
        return True
    return code is not None and _status(exc) in _TRANSIENT_STATUS


def call(operation: str, function: Callable[..., T], policy: RetryPolicy = DEFAULT_POLICY,
         **params: Any) -> T:
    """Call ``function(**params)`` (a boto3 client method), retrying transient failures.

    :raises Unauthorized: the credentials expired or are not recognised.
    :raises StoreUnavailableError: still failing after the last try, or the
        endpoint cannot be reached; says which operation, how many tries and
        the last error.
    :raises botocore.exceptions.ClientError: any other AWS error, for the
        caller to map (not found, denied, ...).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    for attempt in range(1, policy.attempts + 1):
        try:
            return function(**params)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) in UNAUTHORIZED_CODES:
                raise Unauthorized(f"{operation}: {describe(exc)}") from None
            if not _transient(exc):
                if isinstance(exc, ClientError):
                    raise
                raise StoreUnavailableError(f"{operation} failed: {describe(exc)}") from None
            if attempt == policy.attempts:
                raise StoreUnavailableError(
                    f"{operation} failed after {attempt} attempts: {describe(exc)}"
                ) from None
        time.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover
