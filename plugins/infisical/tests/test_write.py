"""Writes (create or update), deletes and listings; read-only unless the store allows writes."""

from __future__ import annotations

from typing import Any

import pytest
from infisical_api import CREATE, DELETE, UPDATE, InfisicalApi
from infisical_fixtures import Project

from secretstores import (
    AccessDeniedError,
    ReadOnlyStoreError,
    SecretNotFoundError,
    StoreError,
)
from secretstores.testing import exception_texts

VALUE = "write-canary-Vb71-never-in-messages"


def writes(api: InfisicalApi) -> int:
    return api.requests[CREATE] + api.requests[UPDATE] + api.requests[DELETE]


def test_write_creates_then_updates_and_reads_back(project: Project, make_stores: Any) -> None:
    stores = make_stores(project.store(readOnly=False, configuration={"secretPath": "/app"}))
    project.folder("/app")
    stores.put("inf", "NEW_KEY", "first")
    assert project.value("NEW_KEY", "/app") == "first"  # really in Infisical, where it belongs
    assert stores.get("inf", "NEW_KEY") == "first"
    stores.put("inf", "NEW_KEY", "second")
    assert stores.get("inf", "NEW_KEY") == "second"  # the cached "first" is gone
    record = project.api.projects[project.id]["prod"]["/app"]["NEW_KEY"]
    assert record["version"] == 2  # one create, one update: no duplicate
    project.folder("/app/sub")
    stores.put("inf", "sub/NESTED", "nested")
    assert project.value("NESTED", "/app/sub") == "nested"


def test_an_update_keeps_the_secrets_multiline_setting(project: Project,
                                                       make_stores: Any) -> None:
    project.seed("CERT", "-----BEGIN-----")
    project.api.projects[project.id]["prod"]["/"]["CERT"]["skipMultilineEncoding"] = True
    stores = make_stores(project.store(readOnly=False))
    stores.put("inf", "CERT", "-----BEGIN NEW-----")
    record = project.api.projects[project.id]["prod"]["/"]["CERT"]
    assert record["value"] == "-----BEGIN NEW-----" and record["skipMultilineEncoding"] is True


def test_writing_into_a_folder_that_does_not_exist(project: Project, make_stores: Any) -> None:
    stores = make_stores(project.store(readOnly=False))
    with pytest.raises(StoreError) as info:
        stores.put("inf", "/no/such/folder/KEY", VALUE)
    assert "folder '/no/such/folder' of environment 'prod' does not exist" in str(info.value)
    assert not any(VALUE in text for text in exception_texts(info.value))


def test_delete(project: Project, make_stores: Any) -> None:
    project.seed("GONE", "soon", "/app")
    stores = make_stores(project.store(readOnly=False, configuration={"secretPath": "/app"}))
    assert stores.get("inf", "GONE") == "soon"
    assert stores.delete("inf", "GONE") is True
    assert "GONE" not in project.api.projects[project.id]["prod"]["/app"]
    with pytest.raises(SecretNotFoundError):
        stores.get("inf", "GONE")
    assert stores.delete("inf", "GONE") is False
    assert stores.delete("inf", "/missing/folder/GONE") is False


def test_list_names_of_the_secret_path_and_its_subfolders(project: Project,
                                                          make_stores: Any) -> None:
    project.seed("A", "1", "/app")
    project.seed("B", "2", "/app/db")
    project.seed("OUTSIDE", "3", "/other")
    project.seed("ROOT", "4", "/")
    project.identity.deny_read.add("A")  # listing asks for no value: still listed
    stores = make_stores(project.store(configuration={"secretPath": "/app"}))
    names = stores.list_names("inf")
    assert names == ["A", "db/B"]
    assert stores.get("inf", "db/B") == "2"  # each name is an identifier


def test_read_only_by_default(project: Project, make_stores: Any) -> None:
    stores = make_stores(project.store())
    before = writes(project.api)
    with pytest.raises(ReadOnlyStoreError) as info:
        stores.put("inf", "KEY", VALUE)
    with pytest.raises(ReadOnlyStoreError):
        stores.delete("inf", "KEY")
    assert '"readOnly": false' in str(info.value) and VALUE not in str(info.value)
    assert writes(project.api) == before  # refused before anything was sent


def test_an_identity_without_write_permission_is_denied(api: InfisicalApi, project: Project,
                                                        make_stores: Any) -> None:
    reader = api.add_identity(project.id, read_only=True)
    project.seed("KEY", "old")
    stores = make_stores(project.store(readOnly=False, configuration={
        "accessToken": api.issue_token(reader)}))
    with pytest.raises(AccessDeniedError) as info:
        stores.put("inf", "KEY", VALUE)
    assert "You are not allowed to edit on secrets" in str(info.value)
    assert not any(VALUE in text for text in exception_texts(info.value))
    with pytest.raises(AccessDeniedError, match="not allowed to delete"):
        stores.delete("inf", "KEY")
    assert project.value("KEY") == "old"


def test_a_change_held_for_approval_is_reported(project: Project, make_stores: Any) -> None:
    project.folder("/guarded")
    project.api.hold_for_approval(project.id, "prod", "/guarded")
    stores = make_stores(project.store(readOnly=False, configuration={"secretPath": "/guarded"}))
    with pytest.raises(StoreError) as info:
        stores.put("inf", "KEY", VALUE)
    assert "a change approval policy on folder '/guarded' of environment 'prod'" in \
        str(info.value)
    assert not any(VALUE in text for text in exception_texts(info.value))
