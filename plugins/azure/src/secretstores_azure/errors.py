"""Classifying Azure SDK failures for the core: throttled, transient, unauthorized, refused.

The SDK's own retries are off for our clients (``retry_total=0``) and every hook
makes one attempt: the core retries, with one policy for every store.
:func:`call` makes one SDK call and turns whatever it raises into one of the
core's errors, or into :class:`KeyVaultError` for the answers a caller handles
itself (a 404, a 409). Messages quote Key Vault's and Microsoft Entra ID's error
codes and messages (which name secrets, principals and permissions, never a value
or a credential) and never the SDK's exception text as a whole.

The mapped error is always raised *outside* the ``except`` block that caught the
SDK's exception, so the SDK's exception never rides along as ``__context__``.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from secretstores.errors import (
    AccessDeniedError,
    AuthenticationError,
    MisconfiguredError,
    StoreError,
    StoreUnavailableError,
    ThrottledError,
    TransientError,
    Unauthorized,
)

T = TypeVar("T")

#: HTTP statuses worth another try (429 is throttling, handled on its own).
TRANSIENT_STATUS = frozenset({408, 500, 502, 503, 504})
#: Key Vault's inner error code for a disabled secret version.
DISABLED = "SecretDisabled"
#: Key Vault's inner error code for a write to a secret deleted but recoverable.
DELETED_BUT_RECOVERABLE = "ObjectIsDeletedButRecoverable"
#: Key Vault's inner error code for a secret whose deletion or recovery is under way.
BEING_CHANGED = frozenset({"ObjectIsBeingDeleted", "ObjectIsBeingRecovered"})

_AADSTS = re.compile(r"(AADSTS\d+:[^\r\n]*?)(?:\s*(?:\r|\n|Trace ID:|$))")
_TENANT_REFUSED = re.compile(r"not configured to acquire tokens for tenant ([\w-]+(?:\.[\w-]+)*)")
#: How MSAL reports a token endpoint's 429 or 5xx (it raises before reading the body).
_HTTP_ERROR = re.compile(r"\bHTTP Error: (\d{3})\b")
_SEE = re.compile(r"\s(?:Visit|See the troubleshooting|To mitigate)\b")
_UNREACHABLE = ("Failed to establish a new connection", "Failed to resolve", "timed out",
                "Connection refused", "Connection reset", "RemoteDisconnected")


class KeyVaultError(StoreUnavailableError):
    """Key Vault answered with an error the caller may handle itself (a 404, a 409, a 400).

    ``status`` is the HTTP status, ``code`` Key Vault's error code and ``inner``
    its inner error code (``SecretDisabled``, ``ObjectIsDeletedButRecoverable``).
    """

    def __init__(self, message: str, *, status: int, code: str | None = None,
                 inner: str | None = None, store: str | None = None) -> None:
        self.status = status
        self.code = code
        self.inner = inner
        super().__init__(message, store=store)


def _odata(exc: Any) -> tuple[str | None, str, str | None]:
    """Key Vault's error code, message and inner error code of an ``HttpResponseError``."""
    error = getattr(exc, "error", None)
    if error is None:
        return None, "", None
    inner = getattr(error, "innererror", None) or {}
    inner_code = inner.get("code") if isinstance(inner, Mapping) else None
    message = " ".join(str(error.message or "").split())
    return error.code, message, inner_code


def entra_reason(exc: BaseException) -> str:
    """What Microsoft Entra ID (or the credential chain) said, without trace ids."""
    text = str(getattr(exc, "message", "") or exc)
    found = _AADSTS.search(text)
    if found:
        return found.group(1).strip()
    first = " ".join(text.split("\n", 1)[0].split())
    attempts = [" ".join(line.split()) for line in text.splitlines() if line.startswith("\t")]
    if attempts:  # the default chain: what each credential said, without the links
        tried = "; ".join(_SEE.split(attempt, 1)[0].strip().rstrip(".") for attempt in attempts)
        return f"{first.rstrip('.')} ({tried})"
    return first[:300] or type(exc).__name__


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """The delay a 429 or 503 asked for: ``retry-after-ms``, ``x-ms-retry-after-ms`` or
    ``Retry-After`` (seconds or an HTTP date), in seconds."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001),
                        ("Retry-After", 1.0)):
        value = headers.get(name)
        if not value:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        return max(0.0, when.timestamp() - time.time())
    return None


def _network(exc: BaseException, where: str) -> StoreError:
    from azure.core.exceptions import ServiceRequestTimeoutError, ServiceResponseTimeoutError

    if isinstance(exc, ServiceRequestTimeoutError | ServiceResponseTimeoutError):
        return TransientError(f"{where} timed out ({type(exc).__name__})")
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in text or "SSL:" in text:
        return MisconfiguredError(
            f"the TLS certificate of {where} could not be verified: give the CA bundle "
            "that issued it as 'caCert' (or set REQUESTS_CA_BUNDLE)")
    if "Connection refused" in text:
        return TransientError(f"cannot reach {where}: connection refused")
    return TransientError(f"cannot reach {where} ({type(exc).__name__})")


def classify(exc: BaseException, what: str, vault_url: str) -> StoreError:
    """The core's error for ``exc``, raised by the SDK while doing ``what``."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, ClientAuthenticationError) and (
            exc.status_code != 401 or not _from_vault(exc, vault_url)):
        # The credential could not get a token (the request never reached the vault).
        return credential_error(exc, what)
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        return _http_error(exc, what, vault_url)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return _network(exc, vault_url)
    if isinstance(exc, ValueError) and "challenge" in str(exc).lower():
        return MisconfiguredError(
            f"{vault_url} sent an authentication challenge for a resource outside the "
            f"vault's domain ({exc}); if this is a vault under a custom domain or a test "
            "server, set 'verifyChallengeResource' to false")
    return StoreUnavailableError(f"{what} failed: {type(exc).__name__}")


def _from_vault(exc: Any, vault_url: str) -> bool:
    request = getattr(getattr(exc, "response", None), "request", None)
    url = str(getattr(request, "url", "") or "")
    return url.lower().startswith(vault_url.lower())


def credential_error(exc: BaseException, what: str) -> StoreError:
    """The error for a credential that could not get a token."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    chained: BaseException | None = exc
    while chained is not None:  # azure-identity wraps a network failure in its own error
        if isinstance(chained, ServiceRequestError | ServiceResponseError):
            return _network(chained, "the Microsoft Entra ID sign-in endpoint")
        chained = chained.__cause__ or chained.__context__
    reason = entra_reason(exc)
    status = _HTTP_ERROR.search(reason)
    if status is not None:  # MSAL's "HTTP Error: 503": the endpoint failed, nothing refused
        code = int(status.group(1))
        if code == 429:
            return ThrottledError("Microsoft Entra ID is throttling sign-ins (HTTP 429)")
        if code in TRANSIENT_STATUS:
            return TransientError(f"the Microsoft Entra ID sign-in endpoint answered HTTP "
                                  f"{code}")
    if any(marker in reason for marker in _UNREACHABLE):
        return TransientError(f"cannot reach the Microsoft Entra ID sign-in endpoint: "
                              f"{reason.removeprefix('Authentication failed: ')}")
    tenant = _TENANT_REFUSED.search(reason)
    if tenant:
        return MisconfiguredError(
            f"the vault belongs to tenant '{tenant.group(1)}', which is not the tenant "
            "the credential signs in to: check 'tenantId'")
    if reason.startswith("AADSTS"):
        return AuthenticationError(f"{what}: Microsoft Entra ID refused the sign-in: {reason}")
    return AuthenticationError(f"{what}: no token: {reason}")


def _http_error(exc: Any, what: str, vault_url: str) -> StoreError:
    status = int(exc.status_code)
    code, message, inner = _odata(exc)
    said = f"{code}: {message}" if code else f"HTTP {status}"
    if inner:
        said += f" ({inner})"
    if code is None and status in (400, 404, 405):
        return MisconfiguredError(
            f"{vault_url} answered HTTP {status} without Key Vault's JSON error: is "
            "'vaultUrl' the vault's URL (https://NAME.vault.azure.net)?")
    if status == 401:
        return Unauthorized(f"{what}: Key Vault refused the token ({said})")
    if status == 429:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return ThrottledError(f"{what}: Key Vault is throttling requests ({said})",
                              retry_after=retry_after(headers))
    if status in TRANSIENT_STATUS:
        return TransientError(f"{what}: Key Vault answered HTTP {status} ({said})")
    if status == 403 and inner != DISABLED:
        return AccessDeniedError(f"{what}: access denied: {said}")
    return KeyVaultError(f"{what}: {said}", status=status, code=code, inner=inner)


def call(what: str, vault_url: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``function(*args, **kwargs)`` (an SDK method) once.

    :raises Unauthorized: the vault refused the session's token.
    :raises AuthenticationError: the credential could not get a token.
    :raises ThrottledError: Key Vault asked to slow down (with its delay).
    :raises TransientError: a network failure, a timeout, a 5xx.
    :raises MisconfiguredError: the URL is not a vault's, its TLS certificate is not
        trusted, or its challenge names a resource of another domain.
    :raises AccessDeniedError: a 403 (but for a disabled secret).
    :raises KeyVaultError: any other error answer (404, 409, a disabled secret...).
    """
    try:
        return function(*args, **kwargs)
    except Exception as exc:  # every SDK failure is classified; nothing raw escapes
        error = classify(exc, what, vault_url)
    raise error
