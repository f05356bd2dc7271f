"""The HTTP adapter mounted on the SDK's ``requests`` session: timeouts, pool, no retries.

``infisical_sdk`` sends every request through one ``requests.Session`` with no
timeout, and wraps each call in its own retry loop (four retries of network
errors, sleeping 1, 2, 4 and 8 seconds). Neither fits the core's contract: a
request must end within the store's ``timeout``, and the core alone retries,
within the store's ``retries`` and ``deadline``. This adapter, mounted on the
SDK's session with ``requests``' public ``Session.mount``, gives each request the
store's timeout, sizes the pool for the store's ``concurrency``, and turns what
the core retries into its errors before the SDK sees anything:

- a request that cannot reach Infisical or times out, or whose answer's body
  is cut short or stalls (the body is read inside the adapter, not after it):
  :class:`TransientError` (not one of the exceptions the SDK's retry loop
  catches, so it is never retried there);
- an HTTP 429 (Infisical's rate limits): :class:`ThrottledError` with the
  ``Retry-After`` the server sent;
- a 502, 503 or 504 (a load balancer or proxy in front of Infisical): a
  :class:`TransientError`.

Everything else reaches the SDK unchanged and comes back as its ``APIError``.
Messages name the site and what went wrong, never a header (the token) or a body.
"""

from __future__ import annotations

from typing import Any

import requests
import requests.adapters
import requests.exceptions

from secretstores.errors import (
    MisconfiguredError,
    StoreUnavailableError,
    ThrottledError,
    TransientError,
)

#: Answers worth another try (a gateway or load balancer in front of Infisical).
TRANSIENT_STATUS = frozenset({502, 503, 504})


class CoreTransport(requests.adapters.HTTPAdapter):
    """A ``requests`` adapter with one timeout, a pool of ``pool_size`` and no retries."""

    def __init__(self, site: str, *, timeout: float, pool_size: int) -> None:
        super().__init__(pool_connections=1, pool_maxsize=pool_size, max_retries=0,
                         pool_block=False)
        self.site = site
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: bool | str = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        """Send one request within the store's timeout; raise the core's errors."""
        failure: Exception | None = None
        try:
            response = super().send(request, stream=stream, timeout=timeout or self.timeout,
                                    verify=verify, cert=cert, proxies=proxies)
            if not stream:
                # Read the body here: requests would read it after ``send`` returns, where
                # a connection broken or timed out mid-body (ChunkedEncodingError,
                # ConnectionError) reaches the SDK's own retry loop (4 retries, 15 s of
                # sleeps) instead of the core's.
                response.content  # noqa: B018
        except requests.exceptions.SSLError as exc:
            failure = StoreUnavailableError(
                f"TLS with {self.site} failed ({type(exc).__name__}): check the certificate "
                "(REQUESTS_CA_BUNDLE)")
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema) as exc:
            failure = MisconfiguredError(f"'siteUrl' cannot be used: {type(exc).__name__}")
        except (requests.exceptions.RequestException, OSError) as exc:
            failure = TransientError(f"cannot reach Infisical at {self.site}: {_reason(exc)}")
        if failure is not None:
            raise failure  # outside the except blocks: no context holding a URL or header
        status = response.status_code
        if status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            response.close()
            raise ThrottledError(f"Infisical answered 429 (rate limit exceeded) at {self.site}",
                                 retry_after=retry_after)
        if status in TRANSIENT_STATUS:
            response.close()
            raise TransientError(f"Infisical answered {status} "
                                 f"({response.reason or 'error'}) at {self.site}")
        return response


def _reason(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"cannot connect ({type(exc).__name__})"
    return type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds; an HTTP date counts as None)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 3600 else None


def mount(session: requests.Session, site: str, *, timeout: float, pool_size: int) -> None:
    """Mount a :class:`CoreTransport` on ``session`` for every URL it may request."""
    transport = CoreTransport(site, timeout=timeout, pool_size=pool_size)
    session.mount("https://", transport)
    session.mount("http://", transport)
