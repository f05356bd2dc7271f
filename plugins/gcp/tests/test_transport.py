"""The HTTP session under the client: the store's timeout, proxies from the environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from gcptest_env import Accounts
from gcptest_server import SecretManagerServer

from secretstores import Status
from secretstores.api import SecretStores
from secretstores.testing.faults import FaultProxy


@pytest.mark.parametrize("bypass", [False, True])
def test_the_proxy_variables_are_honoured(make_stores: Callable[..., SecretStores],
                                          store_config: Callable[..., Any], accounts: Accounts,
                                          server: SecretManagerServer, seed: Callable[..., str],
                                          monkeypatch: pytest.MonkeyPatch, bypass: bool,
                                          unique: Callable[[str], str]) -> None:
    name = unique("proxied")
    seed(name, "through-the-proxy")
    with FaultProxy(server.url) as proxy:  # forwards absolute-URI requests as a proxy does
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        if bypass:
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        stores = make_stores(store_config(accounts.reader))
        assert stores.get("gcp", name) == "through-the-proxy"
        seen = proxy.requests
    assert seen == (0 if bypass else 2)  # the token request and the read


def test_a_slow_answer_ends_at_the_stores_timeout(make_stores: Callable[..., SecretStores],
                                                  store_config: Callable[..., Any],
                                                  accounts: Accounts,
                                                  server: SecretManagerServer) -> None:
    """An answer held by the server ends at the store's timeout, as a transient failure."""
    with FaultProxy(server.url) as front:
        stores = make_stores(store_config(accounts.reader, endpoint=front.url),
                             timeout=0.3, retries=0)
        stores.check("gcp")
        front.fail_next(1, hang=True)
        result = stores.fetch("gcp", ["held"])["held"]
        front.heal()
    assert result.status is Status.UNAVAILABLE
    assert result.message == f"AccessSecretVersion: cannot reach {front.url}: timed out"
