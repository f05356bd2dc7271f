"""Throttled and unavailable answers are retried by the core, and only by the core: the
client library's own retries (60 s of them, by default) are off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from gcptest_env import Accounts
from gcptest_server import SecretManagerServer

from secretstores import Status
from secretstores.api import SecretStores
from secretstores.testing import CANARY, record_events
from secretstores.testing.faults import closed_port


def test_throttled_read_is_retried(stores: SecretStores, seed: Callable[..., str],
                                   server: SecretManagerServer,
                                   unique: Callable[[str], str]) -> None:
    name = unique("busy")
    seed(name, "ok")
    stores.check("gcp")
    server.fail_next(2, "RESOURCE_EXHAUSTED", retry_delay=0.01)
    with record_events(stores.plugins) as recorder:
        assert stores.get("gcp", name) == "ok"
    assert server.count("AccessSecretVersion") == 3
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.retries == 2


@pytest.mark.parametrize("status", ["UNAVAILABLE", "INTERNAL"])
def test_transient_errors_are_retried(stores: SecretStores, seed: Callable[..., str],
                                      server: SecretManagerServer, status: str,
                                      unique: Callable[[str], str]) -> None:
    name = unique("flaky")
    seed(name, "v1", "v2")
    stores.check("gcp")
    server.fail_next(1, status)
    assert stores.get("gcp", f"{name}:1") == "v1"
    assert server.count("AccessSecretVersion") == 2


def test_error_after_the_last_try(stores: SecretStores, seed: Callable[..., str],
                                  server: SecretManagerServer,
                                  unique: Callable[[str], str]) -> None:
    name = unique("hot")
    seed(name, CANARY)
    stores.check("gcp")
    server.fail_next(4, "RESOURCE_EXHAUSTED")
    result = stores.fetch("gcp", [name])[name]
    assert result.status is Status.UNAVAILABLE
    assert result.message == (
        "AccessSecretVersion: RESOURCE_EXHAUSTED: Quota exceeded for quota metric 'Access "
        "requests' and limit 'Access requests per minute per project' of service "
        "'secretmanager.googleapis.com' for consumer 'project_number:0'. (after 3 retries)")
    assert server.count("AccessSecretVersion") == 4  # the store's default: 3 retries
    assert CANARY not in repr(result)
    assert stores.get("gcp", name) == CANARY  # the next read goes through


def test_the_client_library_does_not_retry(make_stores: Callable[..., SecretStores],
                                           store_config: Callable[..., Any],
                                           accounts: Accounts, seed: Callable[..., str],
                                           server: SecretManagerServer,
                                           unique: Callable[[str], str]) -> None:
    """With the store's retries at 0, an UNAVAILABLE is one request and an error (the
    library's default policy would retry it, and RESOURCE_EXHAUSTED, for a minute)."""
    name = unique("once")
    seed(name, "v")
    stores = make_stores(store_config(accounts.reader), retries=0)
    stores.check("gcp")
    server.fail_next(1, "UNAVAILABLE")
    result = stores.fetch("gcp", [name])[name]
    assert result.status is Status.UNAVAILABLE
    assert "UNAVAILABLE: The service is currently unavailable." in result.message
    assert server.count("AccessSecretVersion") == 1
    server.fail_next(1, "RESOURCE_EXHAUSTED")
    stores.invalidate()
    assert stores.fetch("gcp", [name])[name].status is Status.UNAVAILABLE
    assert server.count("AccessSecretVersion") == 2


def test_token_endpoint_failures_are_retried_by_the_core(
        make_stores: Callable[..., SecretStores], store_config: Callable[..., Any],
        accounts: Accounts, seed: Callable[..., str], server: SecretManagerServer,
        unique: Callable[[str], str]) -> None:
    """google-auth would retry a 503 from the token endpoint three times with pauses of a
    second and more; here one token request fails and the core's retry gets the token."""
    name = unique("login")
    seed(name, "after-login")
    server.fail_next_token(1, 503)
    stores = make_stores(store_config(accounts.reader))
    assert stores.get("gcp", name) == "after-login"
    assert server.token_requests == 2


def test_a_failing_token_endpoint_is_reported(make_stores: Callable[..., SecretStores],
                                              store_config: Callable[..., Any],
                                              accounts: Accounts,
                                              server: SecretManagerServer) -> None:
    server.fail_next_token(5, 429)
    stores = make_stores(store_config(accounts.reader), retries=0)
    result = stores.fetch("gcp", ["anything"])["anything"]
    assert result.status is Status.UNAVAILABLE
    assert "the token endpoint answered HTTP 429" in result.message
    assert server.token_requests == 1  # no retry inside google-auth


def test_unreachable_endpoint(make_stores: Callable[..., SecretStores],
                              store_config: Callable[..., Any], accounts: Accounts) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    stores = make_stores(store_config(accounts.reader, endpoint=endpoint), retries=1)
    result = stores.fetch("gcp", ["x"])["x"]
    assert result.status is Status.UNAVAILABLE
    assert result.message == (f"AccessSecretVersion: cannot reach {endpoint}: Connection "
                              "refused (after 1 retry)")


def test_the_retry_delay_google_asks_for_is_kept() -> None:
    """A RESOURCE_EXHAUSTED with a ``RetryInfo`` detail: the core waits at least that long."""
    import json

    import requests

    from secretstores.errors import ThrottledError
    from secretstores_gcp.errors import for_status, parse_error

    response = requests.Response()
    response.status_code = 429
    response._content = json.dumps({"error": {
        "code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded.",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                     "retryDelay": "1.5s"}]}}).encode()
    error = parse_error(response)
    assert error is not None and error.retry_after == 1.5
    throttled = for_status("AccessSecretVersion", error)
    assert isinstance(throttled, ThrottledError) and throttled.retry_after == 1.5
