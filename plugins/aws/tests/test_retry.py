"""Throttling and transient AWS errors are classified so the core retries them, then
reported clearly; the plugin itself makes one attempt per call."""

from __future__ import annotations

from typing import Any

import pytest

from secretstores import Status
from secretstores.api import SecretStores
from secretstores.testing import CANARY, record_events
from secretstores.testing.faults import closed_port


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
    proxy.fail_next(4, "ThrottlingException", "Rate exceeded")
    with record_events(stores.plugins) as recorder:
        result = stores.fetch("aws", ["hot"])["hot"]
    assert result.status is Status.UNAVAILABLE
    assert result.message == (
        "BatchGetSecretValue failed: ThrottlingException: Rate exceeded (after 3 retries)")
    assert proxy.count("BatchGetSecretValue") == 4  # the store's default: 3 retries
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert (event.calls, event.retries) == (4, 3)
    assert CANARY not in repr(result)
    assert stores.get("aws", "hot") == CANARY  # the next read goes through


def test_retries_follow_the_store_setting(make_stores: Any, store_config: Any, admin: Any,
                                          proxy: Any) -> None:
    admin.create_secret(Name="hot", SecretString="v")
    stores = make_stores(store_config(proxy.url), retries=0)
    proxy.fail_next(1, "ThrottlingException", "Rate exceeded")
    assert stores.fetch("aws", ["hot"])["hot"].status is Status.UNAVAILABLE
    assert proxy.count("BatchGetSecretValue") == 1


def test_unreachable_endpoint(make_stores: Any, store_config: Any) -> None:
    stores = make_stores(store_config(f"http://127.0.0.1:{closed_port()}"), retries=1)
    result = stores.fetch("aws", ["x"])["x"]
    assert result.status is Status.UNAVAILABLE
    assert "EndpointConnectionError" in result.message
    assert result.message.endswith("(after 1 retry)")
