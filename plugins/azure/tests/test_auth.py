"""Signing in: the challenge handshake, a wrong client secret, the default credential chain,
the cache identity, TLS trust and the challenge's resource check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azkv_entra import AppServiceIdentity
from azkv_vault import Secret, Version
from azkv_world import AzureWorld, Principal, unique

from secretstores import AuthenticationError, MisconfiguredError, Status, TemplateError
from secretstores.testing import CANARY, exception_texts, record_events

STORE = "az"


def test_sign_in_is_the_challenge_handshake(make_stores: Any, world: AzureWorld,
                                            reader: Principal) -> None:
    """The first request carries no token and is answered 401 with the challenge; the
    credential gets a token for the challenge's tenant from the local Entra ID; the
    vault accepts it."""
    # A vault this process never talked to (the SDK caches challenges per vault host).
    vault = world.add_vault(name="ss-fresh-vault")
    vault.grant(reader.object_id, "Key Vault Secrets User")
    name = unique("handshake")  # seeded in the server's state: no SDK request before ours
    vault.secrets[name] = Secret(name, [Version("0" * 32, "after-handshake")])
    stores = make_stores(world.configuration(reader, vault))
    assert stores.get(STORE, name) == "after-handshake"
    requests = vault.requests
    assert requests[0].principal is None and requests[0].status == 401
    assert all(r.principal == reader.object_id for r in requests[1:])
    assert requests[-1].path == f"/secrets/{name}/" and requests[-1].status == 200
    assert (world.tenant, reader.client_id, "secret", 200) in world.directory.token_requests


def test_wrong_client_secret(make_stores: Any, world: AzureWorld, reader: Principal,
                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    stores = make_stores(world.configuration(reader, clientSecret=CANARY), retries=0)
    with pytest.raises(AuthenticationError) as info:
        stores.check(STORE)
    message = str(info.value)
    assert "AADSTS7000215" in message and reader.client_id in message
    template = "\n".join(f"{{{{ secrets.az.[s{i}] | default('x') }}}}" for i in range(10))
    with pytest.raises(TemplateError) as rendered:
        stores.render_string(template)  # refused credentials are never "not found"
    assert "AADSTS7000215" in str(rendered.value)
    # the failed sign-in is remembered: ten references cost no further token request
    attempts = [t for t in world.directory.token_requests if t[1] == reader.client_id]
    assert attempts == [(world.tenant, reader.client_id, "secret", 401)]
    for text in [*exception_texts(info.value), *exception_texts(rendered.value), caplog.text,
                 repr(stores), repr(stores.stores[STORE])]:
        assert CANARY not in text


def test_default_chain_from_the_environment(monkeypatch: pytest.MonkeyPatch, make_stores: Any,
                                            world: AzureWorld, reader: Principal,
                                            admin: Any) -> None:
    """No clientSecret: EnvironmentCredential (AZURE_TENANT_ID, AZURE_CLIENT_ID,
    AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST) signs in."""
    name = unique("from-env")
    admin.set_secret(name, "env-value")
    monkeypatch.setenv("AZURE_TENANT_ID", reader.tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", reader.client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", reader.secret)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", world.entra.url)
    local = world.local_fields()
    del local["authorityHost"]  # taken from AZURE_AUTHORITY_HOST, as the SDK does
    stores = make_stores({"vaultUrl": world.vault.url, **local})
    assert stores.get(STORE, name) == "env-value"
    assert "default credential chain" in stores.check(STORE)


def test_default_chain_workload_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         make_stores: Any, world: AzureWorld,
                                         admin: Any) -> None:
    """A Kubernetes pod's workload identity: a federated token file, the application and
    tenant named by the store's clientId and tenantId."""
    token = f"federated-{unique()}"
    app = world.directory.app(world.tenant, federated=token)
    world.vault.grant(app.object_id, "Key Vault Secrets User")
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(token)
    # what the Azure workload identity webhook puts in a pod's environment (the default
    # chain gives its workload identity credential no authority of its own)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", world.entra.url)
    name = unique("workload")
    admin.set_secret(name, "pod-value")
    stores = make_stores({"vaultUrl": world.vault.url, "tenantId": world.tenant,
                          "clientId": app.client_id, **world.local_fields()})
    assert stores.get(STORE, name) == "pod-value"
    assert (world.tenant, app.client_id, "assertion", 200) in world.directory.token_requests


def test_default_chain_with_nothing_to_use(make_stores: Any, world: AzureWorld) -> None:
    stores = make_stores({"vaultUrl": world.vault.url, **world.local_fields(),
                          "authorityHost": None}, retries=0)
    with pytest.raises(AuthenticationError) as info:
        stores.check(STORE)
    for credential in ("EnvironmentCredential", "WorkloadIdentityCredential",
                       "ManagedIdentityCredential", "AzureCliCredential"):
        assert credential in str(info.value)


def test_cache_identity_separates_clients(make_stores: Any, world: AzureWorld,
                                          reader: Principal, admin: Any) -> None:
    """A value cached for one client is never served to another client of the same vault
    (the stores share one disk cache, like two processes of one user)."""
    name = unique("scoped")
    admin.set_secret(name, "for-the-reader")
    other = world.principal()
    world.vault.grant(other.object_id, "Key Vault Secrets User")
    world.vault.deny(other.object_id, "get", name)
    first = make_stores(world.configuration(reader))
    assert first.get(STORE, name) == "for-the-reader"
    second = make_stores(world.configuration(other))
    assert second.fetch(STORE, [name])[name].status is Status.DENIED


def test_cache_identity_follows_the_default_chains_principal(
        monkeypatch: pytest.MonkeyPatch, make_stores: Any, world: AzureWorld,
        reader: Principal, admin: Any) -> None:
    """Two processes with the same configuration but different AZURE_CLIENT_ID do not
    share cached values; the same principal again reads from the cache."""
    name = unique("chain-scoped")
    admin.set_secret(name, "for-the-reader")
    other = world.principal()
    world.vault.grant(other.object_id, "Key Vault Secrets User")
    world.vault.deny(other.object_id, "get", name)
    configuration = {"vaultUrl": world.vault.url, **world.local_fields()}

    def sign_in_as(principal: Principal) -> None:
        monkeypatch.setenv("AZURE_TENANT_ID", principal.tenant)
        monkeypatch.setenv("AZURE_CLIENT_ID", principal.client_id)
        monkeypatch.setenv("AZURE_CLIENT_SECRET", principal.secret)

    sign_in_as(reader)
    assert make_stores(configuration).get(STORE, name) == "for-the-reader"
    sign_in_as(other)
    assert make_stores(configuration).fetch(STORE, [name])[name].status is Status.DENIED
    sign_in_as(reader)
    again = make_stores(configuration)
    with record_events(again.plugins) as recorder:
        assert again.get(STORE, name) == "for-the-reader"
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.sources[name] == "disk"  # the reader's cached value, no request


def test_untrusted_certificate_is_a_misconfiguration(make_stores: Any, world: AzureWorld,
                                                     reader: Principal) -> None:
    stores = make_stores(world.configuration(reader, caCert=None), retries=0)
    result = stores.fetch(STORE, ["anything"])["anything"]
    assert result.status is Status.UNAVAILABLE and result.message.startswith("misconfigured")
    assert "caCert" in result.message
    with pytest.raises(MisconfiguredError):
        stores.check(STORE)


def test_ca_bundle_from_the_environment(monkeypatch: pytest.MonkeyPatch, make_stores: Any,
                                        world: AzureWorld, reader: Principal,
                                        admin: Any) -> None:
    """Without caCert the SDKs trust what REQUESTS_CA_BUNDLE names, as requests does."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(world.ca.ca_path))
    name = unique("env-ca")
    admin.set_secret(name, "trusted")
    stores = make_stores(world.configuration(reader, caCert=None))
    assert stores.get(STORE, name) == "trusted"


def test_challenge_resource_is_verified_by_default(make_stores: Any, world: AzureWorld,
                                                   reader: Principal) -> None:
    """The vault's challenge names resource https://vault.azure.net, whose domain does not
    hold 127.0.0.1: with the default verifyChallengeResource the SDK refuses to send it a
    token, and the store says how to allow it."""
    configuration = world.configuration(reader)
    del configuration["verifyChallengeResource"]
    stores = make_stores(configuration, retries=0)
    result = stores.fetch(STORE, ["anything"])["anything"]
    assert result.message.startswith("misconfigured") and "verifyChallengeResource" in (
        result.message)
    tokens = [t for t in world.directory.token_requests if t[1] == reader.client_id]
    assert tokens == []  # no token was ever asked for this foreign resource


def test_authority_host_as_a_bare_host(make_stores: Any, world: AzureWorld,
                                       reader: Principal, admin: Any) -> None:
    name = unique("bare-host")
    admin.set_secret(name, "sovereign")
    stores = make_stores(world.configuration(reader, authorityHost=world.entra.url.removeprefix(
        "https://")))
    assert stores.get(STORE, name) == "sovereign"


def test_default_chain_managed_identity(monkeypatch: pytest.MonkeyPatch, make_stores: Any,
                                        world: AzureWorld, admin: Any) -> None:
    """App Service's managed identity endpoint: the system-assigned identity, or the
    user-assigned one the store's clientId names."""
    system = world.directory.app(world.tenant)
    user_assigned = world.directory.app(world.tenant)
    endpoint = AppServiceIdentity(world.directory, world.tenant, system)
    endpoint.assigned[user_assigned.client_id] = user_assigned
    try:
        monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.url)
        monkeypatch.setenv("IDENTITY_HEADER", endpoint.header)
        name = unique("managed")
        admin.set_secret(name, "from-managed-identity")
        world.vault.grant(user_assigned.object_id, "Key Vault Secrets User")  # only this one
        local = world.local_fields()
        assigned = make_stores({"vaultUrl": world.vault.url, "clientId": user_assigned.client_id,
                                **local})
        assert assigned.get(STORE, name) == "from-managed-identity"
        system_store = make_stores({"vaultUrl": world.vault.url, **local})
        assert system_store.fetch(STORE, [name])[name].status is Status.DENIED
        assert endpoint.requests == [user_assigned.client_id, ""]
    finally:
        endpoint.close()


def test_a_vault_of_another_tenant_gets_no_token(make_stores: Any, world: AzureWorld,
                                                 reader: Principal) -> None:
    foreign_tenant = world.directory.tenant()
    foreign = world.add_vault(tenant=foreign_tenant, name="ss-foreign-vault")
    stores = make_stores(world.configuration(reader, foreign), retries=0)
    result = stores.fetch(STORE, ["anything"])["anything"]
    assert result.message.startswith("misconfigured") and foreign_tenant in result.message
    assert "tenantId" in result.message
    assert not [t for t in world.directory.token_requests if t[0] == foreign_tenant]
