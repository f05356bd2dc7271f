"""Credentials: the service-account key exchanged once at the token endpoint, wrong keys
refused at login, revoked tokens renewed once for every thread, Application Default
Credentials."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gcptest_env import MAIN, Accounts
from gcptest_server import SecretManagerServer

from secretstores import AuthenticationError, Status
from secretstores.api import SecretStores
from secretstores.testing import record_events


def test_one_token_exchange_serves_every_read(stores: SecretStores, seed: Callable[..., str],
                                              server: SecretManagerServer,
                                              unique: Callable[[str], str]) -> None:
    names = [unique("t") for _ in range(5)]
    for name in names:
        seed(name, "v")
    server.reset_counts()
    stores.check("gcp")
    for _ in range(3):
        stores.invalidate()
        assert all(r.status is Status.FOUND for r in stores.fetch("gcp", names).values())
    assert server.token_requests == 1
    callers = {r.caller for r in server.requests}
    assert callers == {f"reader@{MAIN}.iam.gserviceaccount.com"}


def test_check_names_the_service_account(stores: SecretStores, accounts: Accounts) -> None:
    """The reader may only read (the gateway document's role): the check still proves the
    key and the project."""
    assert stores.check("gcp") == (
        f"{accounts.reader['client_email']} accepted by Secret Manager for project "
        f"'{MAIN}' (listing secrets is not allowed)")


def test_a_wrong_key_is_refused_at_login(make_stores: Callable[..., SecretStores],
                                         store_config: Callable[..., Any], accounts: Accounts,
                                         server: SecretManagerServer) -> None:
    """Google answers invalid_grant for a key the account does not have (deleted, or
    another account's): an authentication error, never "not found"."""
    email = accounts.reader["client_email"]
    stolen = server.new_service_account(email, MAIN, register=False)
    stores = make_stores(store_config(stolen), retries=0)
    with pytest.raises(AuthenticationError) as info:
        stores.check("gcp")
    assert str(info.value) == (f"store 'gcp': the service account key of {email} was "
                               "refused: invalid_grant: Invalid JWT Signature.")
    result = stores.fetch("gcp", ["anything"])["anything"]
    assert result.status is Status.UNAVAILABLE and "invalid_grant" in result.message
    assert server.count("AccessSecretVersion") == 0
    assert stolen["private_key"].splitlines()[1] not in str(info.value) + result.message


def test_an_unknown_account_is_refused(make_stores: Callable[..., SecretStores],
                                       store_config: Callable[..., Any],
                                       server: SecretManagerServer) -> None:
    ghost = server.new_service_account("ghost", MAIN, register=False)
    stores = make_stores(store_config(ghost), retries=0)
    with pytest.raises(AuthenticationError, match="invalid_grant: Invalid grant: account not "
                                                  "found"):
        stores.check("gcp")


def test_revoked_tokens_are_renewed_once_for_all_threads(
        stores: SecretStores, seed: Callable[..., str], server: SecretManagerServer,
        unique: Callable[[str], str]) -> None:
    """Concurrent reads get 401s; the core logs in once (google-auth's own 401-refresh
    would exchange the key in each thread that got one) and retries each of them once."""
    names = [unique("r") for _ in range(20)]
    for name in names:
        seed(name, "still-here")
    stores.check("gcp")
    server.reset_counts()
    server.revoke_tokens()
    with record_events(stores.plugins) as recorder:
        results = stores.fetch("gcp", names)
    assert all(r.value == "still-here" for r in results.values())
    assert server.token_requests == 1
    assert [e.operation for e in recorder.events].count("authenticate") == 1
    refused = sum(1 for r in server.requests if r.caller is None)
    assert refused >= 1  # some were refused (those sent after the new login were not)...
    assert server.count("AccessSecretVersion") == 20 + refused  # ...and each served after


def test_application_default_credentials(make_stores: Callable[..., SecretStores],
                                         store_config: Callable[..., Any], accounts: Accounts,
                                         seed: Callable[..., str], server: SecretManagerServer,
                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         unique: Callable[[str], str]) -> None:
    """No key in the configuration: google-auth's ADC (here GOOGLE_APPLICATION_CREDENTIALS
    naming a key file), exchanged at the key's token endpoint."""
    name = unique("adc")
    seed(name, "via-adc")
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(accounts.reader))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    stores = make_stores(store_config(None))
    assert stores.get("gcp", name) == "via-adc"
    assert stores.check("gcp").startswith(f"{accounts.reader['client_email']} accepted")
    assert server.token_requests == 1


def test_no_application_default_credentials(make_stores: Callable[..., SecretStores],
                                            store_config: Callable[..., Any]) -> None:
    stores = make_stores(store_config(None), retries=0)
    with pytest.raises(AuthenticationError) as info:
        stores.check("gcp")
    assert "no Application Default Credentials found: set 'serviceAccountKey', or " \
           "GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`" \
           in str(info.value)


def test_the_key_as_an_object_works_too(make_stores: Callable[..., SecretStores],
                                        store_config: Callable[..., Any], accounts: Accounts,
                                        seed: Callable[..., str],
                                        unique: Callable[[str], str]) -> None:
    name = unique("obj")
    seed(name, "object-key")
    config = store_config(None, serviceAccountKey=accounts.reader)
    assert make_stores(config).get("gcp", name) == "object-key"


def test_an_unreadable_private_key(make_stores: Callable[..., SecretStores],
                                   store_config: Callable[..., Any], accounts: Accounts) -> None:
    broken = dict(accounts.reader, private_key="-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                               "-----END PRIVATE KEY-----\n")
    stores = make_stores(store_config(broken), retries=0)
    with pytest.raises(AuthenticationError) as info:
        stores.check("gcp")
    assert str(info.value) == (
        f"store 'gcp': the service account key of {accounts.reader['client_email']} cannot be "
        "used: its private_key is not a valid PEM private key")
