"""Reading: names and resource paths, versions and aliases, JSON keys, binary payloads,
checksums, disabled and destroyed versions, denied and cross-project reads, the fan-out."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from gcptest_env import MAIN, OTHER, Accounts
from gcptest_server import SecretManagerServer

from secretstores import Status, TemplateError
from secretstores.api import SecretStores
from secretstores.testing import count_fetch_calls, record_events


def lines(stores: SecretStores, references: list[str]) -> list[str]:
    return stores.render_string("\n".join("{{ secrets.gcp." + r + " }}"
                                          for r in references)).splitlines()


def test_both_identifier_forms(stores: SecretStores, seed: Callable[..., str],
                               unique: Callable[[str], str], server: SecretManagerServer) -> None:
    """The gateway document's two forms: the full path and just the secret name."""
    name = unique("openai")
    seed(name, "sk-1")
    number = server.projects[MAIN].number
    assert lines(stores, [name, f"[{name}]", f"[projects/{MAIN}/secrets/{name}/versions/1]",
                          f"[projects/{number}/secrets/{name}/versions/latest]",
                          f"[projects/{MAIN}/secrets/{name}]"]) == ["sk-1"] * 5


def test_versions_numbers_and_aliases(stores: SecretStores, seed: Callable[..., str],
                                      admin: Any, unique: Callable[[str], str]) -> None:
    name = unique("rotated")
    path = seed(name, "v1", "v2", "v3")
    admin.update_secret(request={"secret": {"name": path, "version_aliases": {"stable": 2}},
                                 "update_mask": {"paths": ["version_aliases"]}})
    assert lines(stores, [f"[{name}]", f"[{name}:latest]", f"[{name}:1]", f"[{name}:stable]",
                          f"[{path}/versions/2]", f"[{path}/versions/stable]",
                          f"[{path}/versions/latest]"]) == ["v3", "v3", "v1", "v2", "v2", "v2",
                                                            "v3"]
    result = stores.fetch("gcp", [f"{name}:stable"])[f"{name}:stable"]
    assert result.version == "2"  # the version the alias resolved to


def test_missing_version_or_alias_is_not_found(stores: SecretStores, seed: Callable[..., str],
                                               unique: Callable[[str], str]) -> None:
    name = unique("single")
    seed(name, "v1")
    results = stores.fetch("gcp", [f"{name}:9", f"{name}:nope"])
    assert [r.status for r in results.values()] == [Status.NOT_FOUND, Status.NOT_FOUND]
    assert "Secret Version [" in results[f"{name}:9"].message
    assert stores.render_string("{{ secrets.gcp.[" + name + ":9] | default('none') }}") == "none"


def test_json_keys_of_any_version(stores: SecretStores, seed: Callable[..., str],
                                  unique: Callable[[str], str]) -> None:
    name = unique("db")
    seed(name, json.dumps({"username": "u", "password": "1"}),
         json.dumps({"username": "u", "password": "2", "port": 5432}))
    out = stores.render_string(
        "{{ secrets.gcp.[" + name + "].username }}:{{ secrets.gcp.[" + name + "].password }}:"
        "{{ secrets.gcp.[" + name + ":1]['password'] }}:{{ secrets.gcp.[" + name + "].port }}")
    assert out == "u:2:1:5432"


def test_mapping_to_a_path(make_stores: Callable[..., SecretStores],
                           store_config: Callable[..., Any], accounts: Accounts,
                           seed: Callable[..., str], unique: Callable[[str], str]) -> None:
    path = seed(unique("openai"), "sk-mapped")
    stores = make_stores(store_config(accounts.reader),
                         mappings=[{"name": "openai_key", "secretIdentifier":
                                    f"{path}/versions/latest"}])
    assert stores.render_string("Bearer {{ secrets.gcp.openai_key }}") == "Bearer sk-mapped"


def test_binary_payload_is_base64(stores: SecretStores, seed: Callable[..., str],
                                  unique: Callable[[str], str]) -> None:
    raw = b"\x00\x01keystore\xff\xfe"
    name = unique("cert")
    seed(name, raw, "plain text é")
    assert base64.b64decode(stores.get("gcp", f"{name}:1")) == raw
    assert stores.get("gcp", name) == "plain text é"


def test_checksum_mismatch_is_an_error_never_a_value(
        make_stores: Callable[..., SecretStores], store_config: Callable[..., Any],
        accounts: Accounts, seed: Callable[..., str], server: SecretManagerServer,
        unique: Callable[[str], str]) -> None:
    name = unique("damaged")
    seed(name, "the-right-value")
    server.corrupt(MAIN, name)
    stores = make_stores(store_config(accounts.reader), retries=2)
    with record_events(stores.plugins) as recorder:
        result = stores.fetch("gcp", [name])[name]
    assert result.status is Status.UNAVAILABLE and result.value is None
    assert "does not match its checksum (data_crc32c)" in result.message
    assert result.message.endswith("(after 2 retries)")  # read again: it may pass
    assert server.count("AccessSecretVersion") == 3
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.retries == 2
    with pytest.raises(TemplateError, match="checksum"):
        stores.render_string("{{ secrets.gcp.[" + name + "] | default('x') }}")


def test_checksum_is_checked_only_when_present(stores: SecretStores, seed: Callable[..., str],
                                               server: SecretManagerServer,
                                               unique: Callable[[str], str]) -> None:
    """A version written without ``data_crc32c`` has none to check (Secret Manager sends it
    only when the writer gave one); one written with it is checked and read."""
    without, with_sum = unique("nosum"), unique("sum")
    seed(without, "unchecked", checksum=False)
    seed(with_sum, "checked")
    assert server.versions(MAIN, without)[0].crc is None
    assert stores.get("gcp", without) == "unchecked"
    assert stores.get("gcp", with_sum) == "checked"


def test_disabled_and_destroyed_versions_answer_like_not_found(
        stores: SecretStores, seed: Callable[..., str], admin: Any,
        unique: Callable[[str], str]) -> None:
    name = unique("retired")
    path = seed(name, "v1", "v2", "v3")
    admin.disable_secret_version(request={"name": f"{path}/versions/3"})
    admin.destroy_secret_version(request={"name": f"{path}/versions/1"})
    results = stores.fetch("gcp", [name, f"{name}:3", f"{name}:1", f"{name}:2"])
    assert [r.status for r in results.values()] == [Status.NOT_FOUND] * 3 + [Status.FOUND]
    assert results[name].message.startswith(f"the version of 'projects/{MAIN}/secrets/{name}/"
                                            "versions/latest' is disabled")
    assert "is in DISABLED state" in results[f"{name}:3"].message
    assert results[f"{name}:1"].message.startswith(
        f"the version of 'projects/{MAIN}/secrets/{name}/versions/1' is destroyed")
    assert results[f"{name}:2"].value == "v2"
    assert stores.render_string(
        "{{ secrets.gcp.[" + name + "] | default('fallback') }}") == "fallback"


def test_not_found_answers_at_once(stores: SecretStores, server: SecretManagerServer,
                                   unique: Callable[[str], str]) -> None:
    """No retries for a missing secret: one request, the answer straight away."""
    missing = unique("missing")
    with record_events(stores.plugins) as recorder:
        result = stores.fetch("gcp", [missing])[missing]
    assert result.status is Status.NOT_FOUND
    assert "not found or has no versions" in result.message
    assert server.count("AccessSecretVersion") == 1
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert (event.calls, event.retries) == (1, 0)


def test_permission_denied(stores: SecretStores, seed: Callable[..., str],
                           server: SecretManagerServer, unique: Callable[[str], str]) -> None:
    """The reader has secretAccessor on main-project only: another project's secret is
    denied (and never defaulted), at once."""
    path = seed(unique("private"), "not-yours", project=OTHER)
    result = stores.fetch("gcp", [path])[path]
    assert result.status is Status.DENIED
    assert "Permission 'secretmanager.versions.access' denied" in result.message
    assert "roles/secretmanager.secretAccessor" in result.message
    assert server.count("AccessSecretVersion") == 1
    with pytest.raises(TemplateError, match="denied"):
        stores.render_string("{{ secrets.gcp.[" + path + "] | default('x') }}")


def test_cross_project_reads_follow_iam(make_stores: Callable[..., SecretStores],
                                        store_config: Callable[..., Any], accounts: Accounts,
                                        server: SecretManagerServer, seed: Callable[..., str],
                                        unique: Callable[[str], str]) -> None:
    shared, private = unique("shared"), unique("private")
    seed(shared, "from-the-other-project", project=OTHER)
    seed(private, "still-private", project=OTHER)
    server.grant(accounts.cross["client_email"], "roles/secretmanager.secretAccessor",
                 project=OTHER, secret=shared)
    stores = make_stores(store_config(accounts.cross))
    number = server.projects[OTHER].number
    results = stores.fetch("gcp", [f"projects/{OTHER}/secrets/{shared}",
                                   f"projects/{number}/secrets/{shared}/versions/1",
                                   f"projects/{OTHER}/secrets/{private}", shared])
    assert [r.status for r in results.values()] == [
        Status.FOUND, Status.FOUND, Status.DENIED, Status.NOT_FOUND]
    assert results[f"projects/{OTHER}/secrets/{shared}"].value == "from-the-other-project"


def test_regional_secret_by_path(stores: SecretStores, admin: Any, server: SecretManagerServer,
                                 accounts: Accounts, unique: Callable[[str], str]) -> None:
    name = unique("regional")
    parent = f"projects/{MAIN}/locations/us-central1"
    admin.create_secret(request={"parent": parent, "secret_id": name, "secret": {}})
    admin.add_secret_version(request={"parent": f"{parent}/secrets/{name}",
                                      "payload": {"data": b"in-region"}})
    assert stores.get("gcp", f"{parent}/secrets/{name}/versions/1") == "in-region"
    assert stores.fetch("gcp", [name])[name].status is Status.NOT_FOUND  # global: none


def test_twenty_references_are_read_at_once(stores: SecretStores, seed: Callable[..., str],
                                            server: SecretManagerServer,
                                            unique: Callable[[str], str]) -> None:
    """No batch API: the core fans 20 reads out concurrently (about one round trip), on
    connections the next render reuses (the pool holds the store's concurrency)."""
    names = [unique(f"k{i:02d}") for i in range(20)]
    for i, name in enumerate(names):
        seed(name, f"value{i}")
    stores.check("gcp")
    server.reset_counts()
    server.hold_access_until(20)  # each read waits until all 20 are in flight
    with count_fetch_calls(stores.plugins) as calls:
        assert lines(stores, [f"[{n}]" for n in names]) == [f"value{i}" for i in range(20)]
    assert len(calls) == 1 and sorted(calls[0][1]) == sorted(names)
    assert server.max_in_flight == 20
    assert server.count("AccessSecretVersion") == 20
    opened = server.connections
    assert opened <= 21  # the check's connection and one per concurrent read
    stores.invalidate()
    assert lines(stores, [f"[{n}]" for n in names]) == [f"value{i}" for i in range(20)]
    assert server.connections == opened  # all 20 kept in the pool and reused


def test_invalid_identifier_is_reported_not_defaulted(stores: SecretStores) -> None:
    result = stores.fetch("gcp", ["prod/db"])["prod/db"]
    assert result.status is Status.UNAVAILABLE
    assert result.message.startswith("invalid identifier: expected a secret name")
    with pytest.raises(TemplateError, match="invalid identifier"):
        stores.render_string("{{ secrets.gcp.[prod/db] | default('x') }}")
