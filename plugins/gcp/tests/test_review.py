"""Review findings: each test failed before its fix."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from gcptest_env import MAIN, Accounts
from gcptest_server import SecretManagerServer

from secretstores import ConfigError, Status
from secretstores.api import SecretStores
from secretstores.testing.faults import Fault, FaultProxy


def _load(configuration: dict[str, Any]) -> SecretStores:
    return SecretStores.from_dict({"defaultStores": False, "stores": [
        {"name": "gcp", "type": "gcp_secret_manager", "configuration": configuration}]})


@pytest.mark.parametrize("endpoint", ["http://secretmanager.googleapis.com",
                                      "http://10.0.0.7:8080", "http://secretmanager-x.p.googleapis.com/"])
def test_a_plain_http_endpoint_off_this_machine_is_refused(endpoint: str,
                                                          accounts: Accounts) -> None:
    """Every request carries the access token: over http:// to another host it would cross
    the network in clear text. The docs allow http:// only for a local server."""
    with pytest.raises(ConfigError) as info:
        _load({"projectId": MAIN, "endpoint": endpoint,
               "serviceAccountKey": json.dumps(accounts.reader)})
    assert "store 'gcp': configuration.endpoint: " in str(info.value)
    assert "http:// only for a local server" in str(info.value)


def test_a_key_whose_token_uri_is_plain_http_off_this_machine_is_refused(
        accounts: Accounts) -> None:
    """The signed JWT sent to ``token_uri`` buys an access token for an hour: a key naming
    an http:// token endpoint on another host is refused, as its message always said."""
    key = dict(accounts.reader, token_uri="http://oauth2.googleapis.com/token")
    with pytest.raises(ConfigError) as info:
        _load({"projectId": MAIN, "serviceAccountKey": json.dumps(key)})
    assert "store 'gcp': configuration: serviceAccountKey: token_uri is not an https:// URL" \
        in str(info.value)
    assert key["private_key"] not in str(info.value)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8085", "http://localhost:8085",
                                      "http://[::1]:8085", "https://secretmanager.example.com"])
def test_local_and_https_endpoints_are_accepted(endpoint: str, accounts: Accounts) -> None:
    key = dict(accounts.reader, token_uri="http://localhost:9/token")
    stores = _load({"projectId": MAIN, "endpoint": endpoint,
                    "serviceAccountKey": json.dumps(key)})
    assert stores.runtime("gcp").spec.config.endpoint == endpoint
    stores.close()


def test_a_proxy_that_needs_credentials_gets_them(
        make_stores: Callable[..., SecretStores], store_config: Callable[..., Any],
        accounts: Accounts, server: SecretManagerServer, seed: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch, unique: Callable[[str], str]) -> None:
    """``HTTP_PROXY=http://user:password@proxy:3128`` (a corporate proxy): requests sends
    the credentials as ``Proxy-Authorization``, so the token request got through, but the
    client's own urllib3 pool did not, and every read was answered 407 (and reported as a
    wrong ``endpoint``)."""
    name = unique("behind-auth-proxy")
    seed(name, "through-the-authenticated-proxy")
    expected = "Basic " + base64.b64encode(b"proxy-user:p@ss word").decode()
    refused: list[str] = []

    def authenticate(method: str, path: str, headers: Mapping[str, str],
                     body: bytes) -> Fault | None:
        sent = {key.lower(): value for key, value in headers.items()}
        if sent.get("proxy-authorization") == expected:
            return None
        refused.append(path)
        return Fault(407, b"", {"Proxy-Authenticate": 'Basic realm="corp"'})

    with FaultProxy(server.url, on_request=authenticate) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace(
            "http://", "http://proxy-user:p%40ss%20word@"))
        stores = make_stores(store_config(accounts.reader))
        result = stores.fetch("gcp", [name])[name]
        seen = proxy.requests
    assert result.status is Status.FOUND, result.message
    assert result.value == "through-the-authenticated-proxy"
    assert refused == [] and seen == 2  # the token request and the read
