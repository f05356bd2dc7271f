"""Writing (a new version), deleting, listing, and the permissions each needs."""

from __future__ import annotations

from typing import Any

import pytest
from azkv_world import AzureWorld, Principal, unique

from secretstores import (
    AccessDeniedError,
    ReadOnlyStoreError,
    SecretNotFoundError,
    Status,
    StoreError,
)
from secretstores.api import SecretStores
from secretstores.testing import CANARY

STORE = "az"


@pytest.fixture
def writer(make_stores: Any, world: AzureWorld, officer: Principal) -> SecretStores:
    """The store signed in as a Key Vault Secrets Officer, allowed to write."""
    return make_stores(world.configuration(officer), readOnly=False)  # type: ignore[no-any-return]


def versions(admin: Any, name: str) -> list[Any]:
    """The secret's versions as Key Vault lists them, oldest first."""
    found = list(admin.list_properties_of_secret_versions(name))
    return sorted(found, key=lambda p: p.created_on)


def test_write_then_read_adds_a_version(writer: SecretStores, admin: Any) -> None:
    name = unique("written")
    writer.put(STORE, name, "first")
    assert writer.get(STORE, name) == "first"
    writer.put(STORE, name, "second")
    assert writer.get(STORE, name) == "second"  # the cached "first" did not survive
    first, second = versions(admin, name)
    assert admin.get_secret(name, first.version).value == "first"
    assert admin.get_secret(name).properties.version == second.version
    assert writer.get(STORE, f"{name}/{first.version}") == "first"  # the old version stays


def test_write_with_a_template_name_writes_the_dashed_secret(
        writer: SecretStores, admin: Any) -> None:
    name = unique("api-key")
    writer.put(STORE, name.replace("-", "_"), "underscored")
    assert admin.get_secret(name).value == "underscored"


def test_write_to_a_deleted_secret_recovers_it_first(writer: SecretStores, admin: Any,
                                                     world: AzureWorld) -> None:
    name = unique("recycled")
    admin.set_secret(name, "before")
    admin.begin_delete_secret(name)
    writer.put(STORE, name, "after")
    assert writer.get(STORE, name) == "after"
    assert [admin.get_secret(name, v.version).value for v in versions(admin, name)] == [
        "before", "after"]  # recovered with its history, then a new version
    assert world.vault.seen("POST", f"/deletedsecrets/{name}/recover")


def test_delete(writer: SecretStores, admin: Any) -> None:
    name = unique("doomed")
    writer.put(STORE, name, "x")
    assert writer.delete(STORE, name) is True
    with pytest.raises(SecretNotFoundError):
        writer.get(STORE, name)
    assert admin.get_deleted_secret(name).name == name  # soft delete: recoverable
    assert writer.delete(STORE, name) is False
    assert writer.delete(STORE, unique("never")) is False


def test_versions_cannot_be_written(writer: SecretStores) -> None:
    with pytest.raises(StoreError, match="cannot write a version"):
        writer.put(STORE, f"db/{'a' * 32}", "x")


def test_list_follows_every_page(stores: SecretStores, admin: Any) -> None:
    prefix = unique("listed")
    names = {f"{prefix}-{i:02d}" for i in range(30)}  # Key Vault pages hold 25 at most
    for name in names:
        admin.set_secret(name, "v")
    listed = set(stores.list_names(STORE))
    expected = {name.replace("-", "_") for name in names}
    assert expected <= listed
    some = sorted(expected)[-1]
    assert stores.get(STORE, some) == "v"  # a listed name reads back as it is


def test_read_only_by_default(stores: SecretStores) -> None:
    with pytest.raises(ReadOnlyStoreError) as info:
        stores.put(STORE, unique("nope"), CANARY)
    assert '"readOnly": false' in str(info.value) and CANARY not in str(info.value)


def test_the_readers_role_may_not_write(make_stores: Any, world: AzureWorld,
                                        reader: Principal) -> None:
    """Key Vault Secrets User reads; a write allowed by the configuration is refused by
    Key Vault, and the error says which action the principal lacks."""
    stores = make_stores(world.configuration(reader), readOnly=False)
    with pytest.raises(AccessDeniedError) as info:
        stores.put(STORE, unique("refused"), CANARY)
    assert "setSecret" in str(info.value) and CANARY not in str(info.value)


def test_an_access_policy_granting_get_is_enough_to_read(make_stores: Any,
                                                         world: AzureWorld) -> None:
    """The gateway document's alternative to RBAC: an access policy with Get only."""
    vault = world.add_vault(rbac=False, name="ss-policy-vault")
    getter = world.principal()
    vault.grant(getter.object_id, {"get"})
    name = unique("policy")
    vault.grant(world.admin.object_id, {"get", "list", "set", "delete"})
    admin = world.sdk_client(world.admin, vault)
    admin.set_secret(name, "by-policy")
    stores = make_stores(world.configuration(getter, vault), readOnly=False)
    assert "signed in" in stores.check(STORE)
    assert stores.render_string(f"{{{{ secrets.az.[{name}] }}}}") == "by-policy"
    assert stores.fetch(STORE, ["absent"])["absent"].status is Status.NOT_FOUND
    with pytest.raises(AccessDeniedError, match="does not have secrets list permission"):
        stores.list_names(STORE)
    with pytest.raises(AccessDeniedError, match="does not have secrets set permission"):
        stores.put(STORE, name, "x")
    admin.close()
