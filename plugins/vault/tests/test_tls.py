"""Vault over HTTPS: the store's ``caCert`` is what verifies the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from vaulttest_bao import BaoServer

from secretstores import Status


@pytest.fixture(scope="module")
def bao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    server = BaoServer(tmp_path_factory.mktemp("bao-tls"), tls=True)
    server.start()
    yield server
    server.stop()


def _store(bao: BaoServer, **configuration: Any) -> dict[str, Any]:
    return {"name": "vault", "type": "hashicorp_vault", "readOnly": False,
            "configuration": {"address": bao.address, "token": bao.root_token,
                              **configuration}}


def test_https_with_the_servers_ca_certificate(bao_tls: BaoServer, make_stores: Any) -> None:
    bao_tls.seed("tls/app", {"password": "over-tls"})
    stores = make_stores(_store(bao_tls, caCert=str(bao_tls.ca_file)))
    assert stores.render_string("{{ secrets.vault.[tls/app].password }}") == "over-tls"
    stores.put("vault", "tls/written", "w")
    assert stores.get("vault", "tls/written") == "w"


def test_https_refuses_a_server_it_cannot_verify(bao_tls: BaoServer, make_stores: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bao_tls.seed("tls/app", {"password": "over-tls"})
    # a CA bundle that does not hold the dev server's CA
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    stores = make_stores(_store(bao_tls))
    result = stores.fetch("vault", ["tls/app"])["tls/app"]
    assert result.status is Status.UNAVAILABLE
    assert "cannot reach Vault" in result.message, result.message
    assert "over-tls" not in result.message
