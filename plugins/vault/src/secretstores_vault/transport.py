"""A lean HTTP transport for hvac: hvac's API, urllib3's connection pool.

hvac sends every request through a ``requests.Session``; requests spends about
0.6 ms of CPU per request on work a Vault client does not need (cookie jars,
hooks, reading proxy variables from the environment again each time). A batch
reads up to :data:`~secretstores_vault.kv.PARALLEL_READS` paths at once, so that
CPU is what a cold render waits for (``docs/performance.md``). This object
stands in for the session: hvac still builds every request and parses every
answer; only the bytes travel through a urllib3 pool.

What requests would take from the environment is taken once, when the store
authenticates: the proxy for the Vault address (``HTTPS_PROXY``, ``NO_PROXY``,
...) and the CA bundle (``REQUESTS_CA_BUNDLE``, else certifi's).

This is also where the core's retry contract is met, since only here is every
response seen before hvac turns it into an exception: a request that cannot
reach Vault or times out raises :class:`~secretstores.errors.TransientError`,
an HTTP 429 :class:`~secretstores.errors.ThrottledError` with the server's
``Retry-After``, a 502, 503 or 504 ``TransientError``. The core retries them.
"""

from __future__ import annotations

import json as _json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import urllib3
import urllib3.exceptions

from secretstores.errors import ThrottledError, TransientError

#: Answers worth another try (Vault sealed or standby, a proxy's gateway errors).
TRANSIENT_STATUS = frozenset({502, 503, 504})


class Response:
    """The part of ``requests.Response`` hvac reads."""

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes, url: str,
                 reason: str | None) -> None:
        self.status_code = status
        self.headers = headers
        self.content = content
        self.url = url
        self.reason = reason or ""

    @property
    def ok(self) -> bool:
        """True for status codes below 400."""
        return self.status_code < 400

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.content)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class Transport:
    """What hvac's adapter calls ``session``: ``request(...)`` and ``close()``."""

    def __init__(self, address: str, *, verify: bool | str = True, pool_size: int = 20,
                 timeout: float = 5.0) -> None:
        self.address = address
        self.verify: bool | str = verify
        self.cert = None
        self.proxies: dict[str, str] = {}
        self.timeout = timeout
        options: dict[str, Any] = {"maxsize": pool_size, "block": False, "retries": False}
        if verify is False:
            options["cert_reqs"] = "CERT_NONE"
        else:
            options["cert_reqs"] = "CERT_REQUIRED"
            options["ca_certs"] = verify if isinstance(verify, str) else _default_ca_bundle()
        proxy = _proxy_for(address)
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def request(self, method: str, url: str, headers: Mapping[str, str] | None = None,
                allow_redirects: bool = True, params: Mapping[str, Any] | None = None,
                json: Any = None, data: Any = None, timeout: float | None = None,
                **_: Any) -> Response:
        """Send one request (the signature hvac's adapter uses with requests)."""
        sent = dict(headers or {})
        body: bytes | str | None = data
        if json is not None:
            body = _json.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        try:
            answer = self._pool.request(
                method.upper(), url, body=body, headers=sent, redirect=allow_redirects,
                timeout=timeout or self.timeout, preload_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(f"cannot reach Vault at {self.address}: "
                                 f"{_network_reason(exc)}") from None
        if answer.status == 429:
            raise ThrottledError(f"Vault answered 429 (rate limited) at {self.address}",
                                 retry_after=_retry_after(answer.headers.get("Retry-After")))
        if answer.status in TRANSIENT_STATUS:
            raise TransientError(f"Vault answered {answer.status} ({answer.reason or 'error'}) "
                                 f"at {self.address}")
        return Response(answer.status, answer.headers, answer.data, url, answer.reason)

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # (a TimeoutError subclass)
        return f"cannot connect ({type(exc).__name__})"
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return f"timed out ({type(exc).__name__})"
    return type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds; an HTTP date counts as None)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 3600 else None


def _default_ca_bundle() -> str | None:
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        return bundle
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests (hvac's dependency) brings certifi
        return None
    return str(certifi.where())


def _proxy_for(address: str) -> str | None:
    from requests.utils import get_environ_proxies, select_proxy

    return select_proxy(address, get_environ_proxies(address))  # type: ignore[no-any-return]
