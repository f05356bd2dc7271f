"""A lean HTTP session for the client's REST transport: its API, urllib3's connection pool.

The REST transport sends every call through google-auth's ``AuthorizedSession``,
a ``requests.Session``: about 0.4 ms of CPU per call on work a Secret Manager
client does not need (cookie jars, hooks, runtime protocol checks, the proxy
variables read from the environment again each time, a resend after each 401
with a token refresh in every thread that got one). The core fans a render's
reads out at once, so that CPU is what a cold render waits for. This object
stands in for the session: the client still builds and transcodes every
request, and parses every answer and error; only the bytes travel through a
urllib3 pool that holds the store's ``concurrency`` connections.

What requests would take from the environment is taken once, when the store
authenticates: the proxy for the endpoint (``HTTPS_PROXY``, ``NO_PROXY``...;
its ``user:password@``, if any, sent as ``Proxy-Authorization`` as requests
does) and the CA bundle (``REQUESTS_CA_BUNDLE``, else certifi's). Each request
carries the credentials' access token; the session never refreshes it on a
401 nor sends anything twice (the core does both, once, for every thread).
"""

from __future__ import annotations

import json as _json
import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import urllib3


class _Sent:
    """The ``response.request`` api_core reads to name a failed call (method and URL)."""

    def __init__(self, method: str, url: str) -> None:
        self.method = method
        self.url = url


class Response:
    """The part of ``requests.Response`` the REST transport and api_core read."""

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes, method: str,
                 url: str, reason: str | None) -> None:
        self.status_code = status
        self.headers = headers
        self.content = content
        self.url = url
        self.reason = reason or ""
        self.request = _Sent(method, url)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.content)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class LeanSession:
    """What the REST transport calls ``_session``: ``get``/``post``/``patch``/``delete``."""

    def __init__(self, credentials: Any, token_request: Any, endpoint: str, *,
                 pool_size: int, timeout: float) -> None:
        self.credentials = credentials
        self._token_request = token_request
        self.timeout = timeout
        options: dict[str, Any] = {"maxsize": pool_size, "block": False, "retries": False,
                                   "cert_reqs": "CERT_REQUIRED", "ca_certs": _ca_bundle()}
        proxy = _proxy_for(endpoint)
        if proxy:
            proxy, proxy_headers = _proxy_credentials(proxy)
            self._manager: urllib3.PoolManager = urllib3.ProxyManager(
                proxy, proxy_headers=proxy_headers, **options)
        else:
            self._manager = urllib3.PoolManager(**options)
        # Every request goes to the one endpoint: its pool is looked up once, not per request.
        self._origin = endpoint.rstrip("/")
        self._pool = self._manager.connection_from_url(self._origin)
        self._direct = proxy is None

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                params: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
                data: bytes | str | None = None, timeout: float | None = None,
                **_: Any) -> Response:
        """Send one authorized request; urllib3's and google-auth's errors propagate."""
        sent = dict(headers or {})
        # Adds "Authorization: Bearer ..." (refreshing first only if the token expired,
        # which the core's renewal ahead of the expiry avoids).
        self.credentials.before_request(self._token_request, method.upper(), url, sent)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        options: dict[str, Any] = {"body": data, "headers": sent, "redirect": False,
                   "timeout": timeout or self.timeout, "preload_content": True}
        if self._direct and url.startswith(self._origin + "/"):
            answer = self._pool.urlopen(method.upper(), url[len(self._origin):], **options)
        else:
            answer = self._manager.urlopen(method.upper(), url, **options)
        return Response(answer.status, answer.headers, answer.data, method.upper(), url,
                        answer.reason)

    def get(self, url: str, **kwargs: Any) -> Response:
        """A GET (AccessSecretVersion, ListSecrets...)."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        """A POST (AddSecretVersion, CreateSecret...)."""
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Response:
        """A PATCH (UpdateSecret)."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        """A DELETE (DeleteSecret)."""
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        """Close every pooled connection."""
        self._manager.clear()


def _ca_bundle() -> str | None:
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        return bundle
    import certifi

    return str(certifi.where())


def _proxy_for(endpoint: str) -> str | None:
    from requests.utils import get_environ_proxies, select_proxy

    return select_proxy(endpoint, get_environ_proxies(endpoint))  # type: ignore[no-any-return]


def _proxy_credentials(proxy: str) -> tuple[str, dict[str, str] | None]:
    """The proxy URL without its ``user:password@`` and the ``Proxy-Authorization`` header
    they stand for (as requests sends them; urllib3 ignores credentials in a proxy URL)."""
    from urllib.parse import urlsplit, urlunsplit

    from requests.utils import get_auth_from_url

    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if "@" not in parts.netloc:
        return proxy, None
    user, password = get_auth_from_url(urlunsplit(parts))
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    if not user and not password:
        return bare, None
    return bare, urllib3.util.make_headers(proxy_basic_auth=f"{user}:{password}")
