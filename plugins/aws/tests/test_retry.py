"""Throttling and transient errors are retried with backoff, then reported clearly."""

from __future__ import annotations

from typing import Any

import pytest

from secretstores import Status
from secretstores.api import SecretStores
from secretstores.testing import CANARY


def test_throttled_batch_is_retried(stores: SecretStores, admin: Any, proxy: Any) -> None:
    admin.create_secret(Name="busy", SecretString="ok")
    proxy.fail_next(2, "ThrottlingException", "Rate exceeded")
    assert stores.get("aws", "busy") == "ok"
    assert proxy.operations() == ["BatchGetSecretValue"] * 3


@pytest.mark.parametrize(("code", "status"), [
    ("TooManyRequestsException", 429),
    ("InternalServiceError", 500),
    ("ServiceUnavailable", 503),
])
def test_transient_errors_are_retried(stores: SecretStores, admin: Any, proxy: Any,
                                      code: str, status: int) -> None:
    admin.create_secret(Name="flaky", SecretString="v1")
    admin.put_secret_value(SecretId="flaky", SecretString="v2")
    proxy.fail_next(1, code, "try again", status=status, operation="GetSecretValue")
    assert stores.get("aws", "flaky?stage=AWSPREVIOUS") == "v1"
    assert proxy.count("GetSecretValue") == 2


def test_error_after_the_last_try(stores: SecretStores, admin: Any, proxy: Any) -> None:
    admin.create_secret(Name="hot", SecretString=CANARY)
    proxy.fail_next(5, "ThrottlingException", "Rate exceeded")
    result = stores.fetch("aws", ["hot"])["hot"]
    assert result.status is Status.UNAVAILABLE
    assert result.message == (
        "BatchGetSecretValue failed after 5 attempts: ThrottlingException: Rate exceeded")
    assert proxy.count("BatchGetSecretValue") == 5
    assert CANARY not in repr(result)
    assert stores.get("aws", "hot") == CANARY  # the next read goes through


def test_unreachable_endpoint(make_stores: Any, store_config: Any) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stores = make_stores(store_config(f"http://127.0.0.1:{port}"))
    result = stores.fetch("aws", ["x"])["x"]
    assert result.status is Status.UNAVAILABLE
    assert "failed after 5 attempts: EndpointConnectionError" in result.message
