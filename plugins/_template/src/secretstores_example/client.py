"""The provider's "SDK": a tiny HTTP client of the Example Secrets API.

A real provider uses its official SDK here instead. What matters is the
mapping of the SDK's answers to the core's contract: one attempt per call,
``TransientError``/``ThrottledError`` for failures worth another try,
``Unauthorized`` for credentials that stopped working, ``MisconfiguredError``
for an address that is not the API, and a ``FetchResult`` per identifier.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from secretstores import (
    AuthenticationError,
    FetchResult,
    MisconfiguredError,
    StoreUnavailableError,
    ThrottledError,
    TransientError,
    Unauthorized,
)
from secretstores_example.config import ExampleConfig


class ExampleClient:
    """Talks to one Example Secrets API with one token; safe to share between threads."""

    def __init__(self, config: ExampleConfig, timeout: float) -> None:
        self.config = config
        self.timeout = timeout

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = f"{self.config.url.rstrip('/')}/v1/{self.config.namespace}/{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.config.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            return self._failed(error)
        except (urllib.error.URLError, OSError) as error:  # refused, reset, timed out
            reason = getattr(error, "reason", error)
            raise TransientError(f"cannot reach {self.config.url}: "
                                 f"{type(reason).__name__}") from None

    def _failed(self, error: urllib.error.HTTPError) -> tuple[int, Any]:
        body = _json(error.read())
        if not isinstance(body, dict) or "error" not in body:
            raise MisconfiguredError(f"{self.config.url} answered HTTP {error.code} without "
                                     "the API's JSON error: is 'url' the Example API?")
        if error.code == 401:
            raise Unauthorized("the token was not accepted")
        if error.code == 429:
            retry_after = error.headers.get("Retry-After")
            raise ThrottledError("rate limited",
                                 retry_after=float(retry_after) if retry_after else None)
        if error.code in (502, 503, 504):
            raise TransientError(f"the API answered {error.code}")
        return error.code, body

    def read(self, name: str) -> FetchResult:
        """One secret's value, or why there is none."""
        status, body = self._request("GET", f"secrets/{urllib.parse.quote(name, safe='')}")
        if status == 200:
            return FetchResult.found(str(body["value"]))
        if status == 404:
            return FetchResult.not_found(f"no secret '{name}'")
        if status == 403:
            return FetchResult.denied(f"the token may not read '{name}'")
        return FetchResult.unavailable(f"the API answered {status} for '{name}'")

    def write(self, name: str, value: str) -> None:
        """Create or replace one secret."""
        status, _ = self._request("PUT", f"secrets/{urllib.parse.quote(name, safe='')}",
                                  {"value": value})
        if status >= 300:
            raise StoreUnavailableError(f"writing '{name}' failed: HTTP {status}")

    def delete(self, name: str) -> bool:
        """Delete one secret; False when it did not exist."""
        status, _ = self._request("DELETE", f"secrets/{urllib.parse.quote(name, safe='')}")
        if status == 404:
            return False
        if status >= 300:
            raise StoreUnavailableError(f"deleting '{name}' failed: HTTP {status}")
        return True

    def names(self) -> list[str]:
        """Every secret name of the namespace."""
        status, body = self._request("GET", "secrets")
        if status >= 300:
            raise StoreUnavailableError(f"listing failed: HTTP {status}")
        return [str(name) for name in body["names"]]

    def check(self) -> str:
        """Prove the token works against this namespace."""
        status, _ = self._request("GET", "secrets")
        if status == 403:
            raise AuthenticationError("the token may not use this namespace")
        if status >= 300:
            raise StoreUnavailableError(f"the API answered {status}")
        return f"token accepted for namespace '{self.config.namespace}'"


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None
