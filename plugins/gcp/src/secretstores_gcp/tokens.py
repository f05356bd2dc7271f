"""google-auth's HTTP requester for token requests, without retries and within the store's timeout.

Imported only from :func:`secretstores_gcp.client.connect` (it imports
google-auth at module level). google-auth retries a token request answered
429 or 5xx up to three times, pausing a second and more between tries, and
its default requester waits 120 s for an answer; :class:`TokenRequest` gives
up at once with :class:`RetryableAnswer` so that the core's retry policy
decides, within the store's deadline.
"""

from __future__ import annotations

from typing import Any

import requests
from google.auth import transport
from google.auth.exceptions import TransportError
from google.auth.transport.requests import Request


class RetryableAnswer(TransportError):  # type: ignore[misc]
    """The token endpoint answered 429 or 5xx (google-auth would have retried)."""

    def __init__(self, status: int) -> None:
        super().__init__(  # type: ignore[no-untyped-call]
            f"the token endpoint answered HTTP {status}")
        self.status = status


class TokenRequest:
    """A ``google.auth.transport.Request`` that never retries and waits at most ``timeout``."""

    def __init__(self, timeout: float) -> None:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._request = Request(session)
        self.timeout = timeout

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: float | None = None, **kwargs: Any) -> Any:
        limit = self.timeout if timeout is None else min(float(timeout), self.timeout)
        response = self._request(url, method=method, body=body, headers=headers,
                                 timeout=limit, **kwargs)
        if response.status in transport.DEFAULT_RETRYABLE_STATUS_CODES:
            raise RetryableAnswer(response.status)
        return response
