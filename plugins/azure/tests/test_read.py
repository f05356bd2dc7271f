"""Reading: versions, JSON keys, dashes, disabled and deleted secrets, the fan-out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azkv_vault import Gate
from azkv_world import AzureWorld, Principal, unique

from secretstores import AccessDeniedError, SecretStoresError, Status, TemplateError
from secretstores.api import SecretStores
from secretstores.testing import record_events

STORE = "az"


def test_versions(stores: SecretStores, admin: Any, world: AzureWorld) -> None:
    name = unique("versioned")
    first = admin.set_secret(name, "one").properties.version
    second = admin.set_secret(name, "two").properties.version
    assert first != second
    results = stores.fetch(STORE, [name, f"{name}/{first}", f"{world.vault.url}/secrets/{name}/"
                                                            f"{first}", f"{name}/{'0' * 32}"])
    assert results[name].value == "two" and results[name].version == second
    assert results[f"{name}/{first}"].value == "one"
    assert results[f"{world.vault.url}/secrets/{name}/{first}"].value == "one"
    missing = results[f"{name}/{'0' * 32}"]
    assert missing.status is Status.NOT_FOUND and f"version {'0' * 32}" in missing.message
    assert stores.render_string(f"{{{{ secrets.az.[{name}/{first}] }}}}") == "one"
    # the version path really went to Key Vault: GET /secrets/NAME/VERSION
    assert world.vault.seen("GET", f"/secrets/{name}/{first}")


def test_json_keys(make_stores: Any, world: AzureWorld, reader: Principal, admin: Any) -> None:
    name = unique("db")
    old = admin.set_secret(name, json.dumps({"username": "app", "password": "pw-1"}),
                           content_type="application/json").properties.version
    admin.set_secret(name, json.dumps({"username": "app", "password": "pw-2",
                                       "server": {"host": "db.internal", "port": 5432}}))
    stores = make_stores(world.configuration(reader),
                         mappings=[{"name": "db", "secretIdentifier": name}])
    assert stores.render_string(
        "{{ secrets.az.db.username }}:{{ secrets.az.db['password'] }}@"
        "{{ secrets.az.db.server.host }}:{{ secrets.az.db.server.port }}"
    ) == "app:pw-2@db.internal:5432"
    assert stores.render_string(f"{{{{ secrets.az.[{name}/{old}].password }}}}") == "pw-1"
    with pytest.raises(TemplateError, match="has no key 'missing'"):
        stores.render_string("{{ secrets.az.db.missing }}")


def test_underscore_stands_for_dash(stores: SecretStores, admin: Any) -> None:
    """Key Vault names hold no '_' and template names no '-': `_` reads the dashed secret."""
    name = unique("openai-key")
    admin.set_secret(name, "sk-live")
    as_template_name = name.replace("-", "_")
    assert stores.render_string(f"{{{{ secrets.az.{as_template_name} }}}}") == "sk-live"
    assert stores.render_string(f"{{{{ secrets.az.[{name}] }}}}") == "sk-live"


def test_disabled_secret_is_denied_and_the_rest_of_the_render_is_read(
        stores: SecretStores, admin: Any, world: AzureWorld) -> None:
    disabled, fine = unique("disabled"), unique("fine")
    old = admin.set_secret(disabled, "old-value").properties.version
    admin.set_secret(disabled, "new-value")
    admin.update_secret_properties(disabled, enabled=False)  # its current version
    admin.set_secret(fine, "fine-value")

    with record_events(stores.plugins) as recorder:
        results = stores.fetch(STORE, [disabled, fine])
    assert results[fine].status is Status.FOUND and results[fine].value == "fine-value"
    denied = results[disabled]
    assert denied.status is Status.DENIED
    assert "disabled" in denied.message and disabled in denied.message
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.error is None  # the fetch as a whole did not fail
    assert event.outcomes == {disabled: Status.DENIED, fine: Status.FOUND}

    with pytest.raises(AccessDeniedError, match="disabled"):
        stores.get(STORE, disabled)
    # a render naming it fails with an error saying so (`default` does not hide a denial) ...
    with pytest.raises(TemplateError) as info:
        stores.render_string(f"{{{{ secrets.az.[{fine}] }}}} {{{{ secrets.az.[{disabled}] "
                             "| default('x') }}")
    assert isinstance(info.value, SecretStoresError)
    assert "disabled" in str(info.value) and "denied" in str(info.value)
    assert "fine-value" not in str(info.value)
    # ... while the store keeps serving: other references, and older versions still enabled
    assert stores.render_string(f"{{{{ secrets.az.[{fine}] }}}}") == "fine-value"
    assert stores.get(STORE, f"{disabled}/{old}") == "old-value"
    # a denial is never cached: enabled again, it reads at once
    admin.update_secret_properties(disabled, enabled=True)
    assert stores.get(STORE, disabled) == "new-value"


def test_deleted_secret_is_not_found(stores: SecretStores, admin: Any) -> None:
    name = unique("deleted")
    admin.set_secret(name, "before-delete")
    admin.begin_delete_secret(name)  # soft delete: recoverable, not readable
    result = stores.fetch(STORE, [name])[name]
    assert result.status is Status.NOT_FOUND
    assert name in result.message and "deleted" in result.message
    assert stores.render_string(f"{{{{ secrets.az.[{name}] | default('gone') }}}}") == "gone"
    admin.begin_recover_deleted_secret(name)
    stores.invalidate(STORE)  # "not found" is cached for the negative TTL
    assert stores.get(STORE, name) == "before-delete"


def test_reads_fan_out_concurrently_over_one_client(
        make_stores: Any, world: AzureWorld, reader: Principal, admin: Any) -> None:
    """Key Vault has no batch read: one render of 20 references is one fetch, fanned out
    by the core into 20 concurrent GETs over the store's one client and session."""
    prefix = unique("fan")
    names = [f"{prefix}-{i}" for i in range(20)]
    for i, name in enumerate(names):
        admin.set_secret(name, f"value-{i}")
    stores = make_stores(world.configuration(reader))
    stores.check(STORE)  # signed in: the gate sees reads only
    world.vault.gate = gate = Gate(prefix, count=5)
    try:
        template = "\n".join(f"{{{{ secrets.az.[{name}] }}}}" for name in names)
        with record_events(stores.plugins) as recorder:
            rendered = stores.render_string(template)
    finally:
        world.vault.gate = None
    assert rendered.splitlines() == [f"value-{i}" for i in range(20)]
    assert gate.opened and gate.peak >= 5  # at least 5 reads were in flight at once
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.calls == 20  # one read per reference, no batch
    reads = [r for r in world.vault.seen("GET", f"/secrets/{prefix}")
             if r.principal == reader.object_id]
    assert len(reads) == 20 and all(r.status == 200 for r in reads)
    tokens = [t for t in world.directory.token_requests if t[1] == reader.client_id]
    assert len(tokens) == 1  # one sign-in served every read
    assert stores.runtime(STORE).sessions.attempts == 1
