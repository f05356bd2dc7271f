"""Writing (create the secret if missing, add a version), deleting and listing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from gcptest_env import MAIN, OTHER, Accounts
from gcptest_server import SecretManagerServer, crc32c

from secretstores import AccessDeniedError, ReadOnlyStoreError, StoreError
from secretstores.api import SecretStores


def test_write_then_read(writer: SecretStores, server: SecretManagerServer,
                         unique: Callable[[str], str]) -> None:
    name = unique("new")
    writer.put("gcp", name, "first")
    assert writer.get("gcp", name) == "first"
    writer.put("gcp", name, "second")
    assert writer.get("gcp", name) == "second"
    assert writer.get("gcp", f"{name}:1") == "first"
    versions = server.versions(MAIN, name)
    assert [v.data for v in versions] == [b"first", b"second"]
    # each payload went with its checksum, which Secret Manager verified
    assert [v.crc for v in versions] == [crc32c(b"first"), crc32c(b"second")]
    rpcs = [r.rpc for r in server.requests if r.rpc != "AccessSecretVersion"]
    assert rpcs == ["AddSecretVersion", "CreateSecret", "AddSecretVersion", "AddSecretVersion"]


def test_write_by_path(writer: SecretStores, server: SecretManagerServer,
                       unique: Callable[[str], str]) -> None:
    name = unique("bypath")
    writer.put("gcp", f"projects/{MAIN}/secrets/{name}", "written")
    assert writer.get("gcp", name) == "written"


def test_a_version_cannot_be_written_or_deleted(writer: SecretStores) -> None:
    for name in ("db:3", f"projects/{MAIN}/secrets/db/versions/latest"):
        with pytest.raises(StoreError, match="a version cannot be written or deleted"):
            writer.put("gcp", name, "x")
        with pytest.raises(StoreError, match="a version cannot be written or deleted"):
            writer.delete("gcp", name)


def test_writes_are_refused_by_iam(writer: SecretStores, unique: Callable[[str], str]) -> None:
    """The writer administers main-project only."""
    path = f"projects/{OTHER}/secrets/{unique('elsewhere')}"
    with pytest.raises(AccessDeniedError) as info:
        writer.put("gcp", path, "x")
    assert "Permission 'secretmanager.versions.add' denied" in str(info.value)
    assert "roles/secretmanager.secretVersionAdder is needed" in str(info.value)


def test_the_gateway_shape_is_read_only(stores: SecretStores) -> None:
    with pytest.raises(ReadOnlyStoreError, match='"readOnly": false'):
        stores.put("gcp", "x", "y")


def test_a_retried_write_makes_one_version(writer: SecretStores, server: SecretManagerServer,
                                           unique: Callable[[str], str]) -> None:
    """The first answer is lost (the version was added, the connection dropped): the core
    retries with the same request id and the plugin sees the version is there already."""
    name = unique("lost")
    writer.put("gcp", name, "v1")
    server.drop_next_answer(1)
    writer.put("gcp", name, "v2")
    assert [v.data for v in server.versions(MAIN, name)] == [b"v1", b"v2"]
    assert writer.get("gcp", name) == "v2"
    writer.put("gcp", name, "v2")  # a new write of the same value is a new version
    assert len(server.versions(MAIN, name)) == 3


def test_a_retried_creation_makes_one_secret_and_version(writer: SecretStores,
                                                          server: SecretManagerServer,
                                                          unique: Callable[[str], str]) -> None:
    """The secret was created but the answer lost: the retry adds the one version."""
    name = unique("racy")
    server.drop_next_answer(1, rpc="CreateSecret")
    writer.put("gcp", name, "only")
    assert [v.data for v in server.versions(MAIN, name)] == [b"only"]
    assert server.count("CreateSecret") == 1


def test_delete(writer: SecretStores, server: SecretManagerServer,
                unique: Callable[[str], str]) -> None:
    name = unique("gone")
    writer.put("gcp", name, "a")
    writer.put("gcp", name, "b")
    assert writer.delete("gcp", f"projects/{MAIN}/secrets/{name}") is True
    assert (server.projects[MAIN].number, None, name) not in server.secrets  # all versions
    assert writer.delete("gcp", name) is False


def test_list_follows_every_page(make_stores: Callable[..., SecretStores],
                                 store_config: Callable[..., Any], accounts: Accounts,
                                 server: SecretManagerServer) -> None:
    project = "listing-project"
    if project not in server.projects:
        server.add_project(project)
        server.grant(accounts.writer["client_email"], "roles/secretmanager.viewer",
                     project=project)
        for i in range(1005):
            server.store(project, f"s{i:04d}", b"x")
    stores = make_stores(store_config(accounts.writer, projectId=project))
    names = stores.list_names("gcp")
    assert names == [f"s{i:04d}" for i in range(1005)]
    assert server.count("ListSecrets") == 2


def test_listing_needs_a_role_the_reader_lacks(stores: SecretStores) -> None:
    with pytest.raises(AccessDeniedError, match=r"roles/secretmanager\.viewer is needed"):
        stores.list_names("gcp")
