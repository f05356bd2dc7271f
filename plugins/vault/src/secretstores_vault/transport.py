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
"""

from __future__ import annotations

import json as _json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests.exceptions
import urllib3
import urllib3.exceptions

#: What a failed connection raises, through this transport or a plain requests session.
NETWORK_ERRORS: tuple[type[Exception], ...] = (
    urllib3.exceptions.HTTPError, OSError, requests.exceptions.RequestException)


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
                 timeout: float = 30.0) -> None:
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
        answer = self._pool.request(
            method.upper(), url, body=body, headers=sent, redirect=allow_redirects,
            timeout=timeout or self.timeout, preload_content=True)
        return Response(answer.status, answer.headers, answer.data, url, answer.reason)

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()


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
