"""Classifying AWS errors for the core: throttled, transient, unauthorized, or the caller's.

botocore's own retries are off for our clients (``total_max_attempts: 1``), and
this plugin makes one attempt per hook call: the core retries, with one policy
for every store. :func:`call` makes one request and turns the failures the
core acts on into its exceptions: throttling into
:class:`~secretstores.errors.ThrottledError`, transient server or network
failures into :class:`~secretstores.errors.TransientError`, expired or unknown
credentials into :class:`~secretstores.errors.Unauthorized`. Any other AWS
error is re-raised for the caller to map (not found, denied, ...). Messages
name the operation, the error code and AWS's message, never a secret value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from secretstores.errors import (
    MisconfiguredError,
    StoreUnavailableError,
    ThrottledError,
    TransientError,
    Unauthorized,
)
from secretstores.model import FetchResult

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


_XML_CODE = re.compile(r"<Code>([A-Za-z.]+)</Code>")


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (None for other exceptions).

    When botocore could not parse the body (its code is then the HTTP status), an
    XML error body's ``<Code>`` is used (emulators answer authentication errors in
    the query protocol's XML); a 403 without one counts as ``AccessDeniedException``.
    """
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code")
        if code and str(code).isdigit():
            found = _XML_CODE.search(str(error.get("Message") or ""))
            if found:
                inner = found.group(1)
                return "AccessDeniedException" if inner == "AccessDenied" else inner
            if _status(exc) == 403:
                return "AccessDeniedException"
        return str(code) if code else None
    return None


_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


def error_message(exc: BaseException) -> str:
    """AWS's own message for a ``ClientError`` (it names resources, never values)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = str(response.get("Error", {}).get("Message") or "")
        found = _XML_MESSAGE.search(message) if message.startswith("<") else None
        return found.group(1) if found else message
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


def _network(exc: BaseException) -> bool:
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    return isinstance(exc, EndpointConnectionError | ConnectionClosedError | ConnectTimeoutError
                      | ReadTimeoutError | ResponseStreamingError)


def call(operation: str, function: Callable[..., T], **params: Any) -> T:
    """Call ``function(**params)`` (a boto3 client method) once.

    :raises Unauthorized: the credentials expired or are not recognised.
    :raises ThrottledError: AWS asked to slow down.
    :raises TransientError: a server-side failure or a network error (the
        endpoint cannot be reached, the request timed out).
    :raises MisconfiguredError: the endpoint answered without an AWS error body.
    :raises StoreUnavailableError: any other botocore failure.
    :raises botocore.exceptions.ClientError: any other AWS error, for the
        caller to map (not found, denied, ...).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return function(**params)
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc)
        if code in UNAUTHORIZED_CODES:
            raise Unauthorized(f"{operation}: {describe(exc)}") from None
        if code in THROTTLING_CODES or (code is not None and _status(exc) == 429):
            raise ThrottledError(f"{operation} failed: {describe(exc)}") from None
        if _network(exc) or code in TRANSIENT_CODES or (
                code is not None and _status(exc) in _TRANSIENT_STATUS):
            raise TransientError(f"{operation} failed: {describe(exc)}") from None
        if isinstance(exc, ClientError):
            if code is not None and code.isdigit():
                # botocore found no AWS error in the body: not a Secrets Manager endpoint
                raise MisconfiguredError(
                    f"{operation}: the endpoint answered HTTP {code} without an AWS error "
                    "(is 'endpointUrl' a Secrets Manager endpoint?)") from None
            raise
        raise StoreUnavailableError(f"{operation} failed: {describe(exc)}") from None


def result_for_error(code: str | None, message: str) -> FetchResult:
    """Map an AWS error code (of a call or of a batch's ``Errors`` entry) to a result."""
    text = f"{code}: {message}" if message else str(code)
    if code == "ResourceNotFoundException":
        return FetchResult.not_found(text)
    if code == "AccessDeniedException":
        return FetchResult.denied(text)
    if code == "DecryptionFailure":
        return FetchResult.denied(f"{text} (the caller may lack kms:Decrypt on its KMS key)")
    if code == "InvalidRequestException" and "delet" in message.lower():
        return FetchResult.not_found(f"the secret is scheduled for deletion ({text})")
    if code in THROTTLING_CODES:
        return FetchResult.throttled(text)
    if code in TRANSIENT_CODES:
        return FetchResult.transient(text)
    return FetchResult.unavailable(text)
