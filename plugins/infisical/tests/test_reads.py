"""Reads: folders and paths, JSON values, not found vs denied vs unavailable, batch reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infisical_api import GET, LIST, InfisicalApi
from infisical_fixtures import Project

from secretstores import Status, TemplateError
from secretstores.testing import count_fetch_calls
from secretstores.testing.faults import FaultProxy


def reads(api: InfisicalApi) -> tuple[int, int]:
    """(list calls, single reads) the server has answered so far."""
    return api.requests[LIST], api.requests[GET]


def test_identifiers_name_keys_in_the_secret_path_or_other_folders(project: Project,
                                                                   make_stores: Any) -> None:
    project.seed("API_KEY", "in-apps", "/apps")
    project.seed("PASSWORD", "in-apps-db", "/apps/db")
    project.seed("PASSWORD", "in-shared-db", "/shared/db")
    project.seed("API_KEY", "in-root", "/")
    stores = make_stores(project.store(configuration={"secretPath": "/apps"}))
    assert stores.render_string(
        "{{ secrets.inf.API_KEY }} {{ secrets.inf.[db/PASSWORD] }} "
        "{{ secrets.inf.[/shared/db/PASSWORD] }} {{ secrets.inf.[/API_KEY] }}"
    ) == "in-apps in-apps-db in-shared-db in-root"


def test_keys_are_sent_as_one_url_segment(project: Project, make_stores: Any) -> None:
    project.seed("odd.key-#1?x=y", "odd-value")
    stores = make_stores(project.store(configuration={"listThreshold": 0}))
    assert stores.get("inf", "odd.key-#1?x=y") == "odd-value"


def test_mappings_and_json_values_drilled_into_by_key(project: Project,
                                                      make_stores: Any) -> None:
    project.seed("DB_CONFIG", json.dumps({"username": "app", "password": "pw-9",
                                          "port": 5432}), "/prod")
    project.seed("OPENAI_KEY", "sk-42", "/prod")
    stores = make_stores(project.store(
        configuration={"secretPath": "/prod"}, allowDirectAccess=False,
        mappings=[{"name": "openai_key", "secretIdentifier": "OPENAI_KEY"},
                  {"name": "db", "secretIdentifier": "/prod/DB_CONFIG"}]))
    assert stores.render_string(
        "Authorization: Bearer {{ secrets.inf.openai_key }}\n"
        "postgres://{{ secrets.inf.db.username }}:{{ secrets.inf.db['password'] }}"
        "@db:{{ secrets.inf.db.port }}"
    ) == "Authorization: Bearer sk-42\npostgres://app:pw-9@db:5432"


def test_not_found_denied_and_unavailable_are_distinct(project: Project,
                                                       make_stores: Any) -> None:
    project.seed("READABLE", "ok")
    project.seed("NO_READ_VALUE", "refused")
    project.seed("NOT_DESCRIBABLE", "refused")
    project.identity.deny_read.add("NO_READ_VALUE")  # 403 ForbiddenReadSecretError
    project.identity.hidden.add("NOT_DESCRIBABLE")  # 403 PermissionDenied
    front = FaultProxy(project.api.url)
    stores = make_stores(project.store(configuration={"siteUrl": front.url}, retries=2))
    names = ["READABLE", "MISSING", "NO_READ_VALUE", "NOT_DESCRIBABLE"]
    results = stores.fetch("inf", names)
    assert [results[n].status for n in names] == [
        Status.FOUND, Status.NOT_FOUND, Status.DENIED, Status.DENIED]
    assert "no secret /MISSING in environment 'prod'" in results["MISSING"].message
    assert "You do not have permission to view secret value" in results["NO_READ_VALUE"].message
    assert "describeSecret" in results["NOT_DESCRIBABLE"].message
    assert stores.render_string("{{ secrets.inf.MISSING | default('fallback') }}") == "fallback"
    with pytest.raises(TemplateError, match="denied"):
        stores.render_string("{{ secrets.inf.NO_READ_VALUE | default('hidden') }}")
    assert not results["NO_READ_VALUE"].outage  # a refusal, never ridden out with a stale value
    # a 500 is unavailable and an outage, not retried (asking again will not fix it)
    project.seed("BROKEN", "x")
    front.fail_next(1, status=500, headers={"Content-Type": "application/json"}, body=json.dumps(
        {"reqId": "req-1", "statusCode": 500, "message": "Something went wrong",
         "error": "InternalServerError"}).encode())
    seen = front.requests
    result = stores.fetch("inf", ["BROKEN"])["BROKEN"]
    assert result.status is Status.UNAVAILABLE and result.outage
    assert "HTTP 500 InternalServerError: Something went wrong" in result.message
    assert front.requests == seen + 1
    front.close()


def test_a_missing_folder_in_an_identifier_is_not_found(project: Project,
                                                        make_stores: Any) -> None:
    stores = make_stores(project.store())
    result = stores.fetch("inf", ["/nowhere/KEY"])["/nowhere/KEY"]
    assert result.status is Status.NOT_FOUND
    assert "no folder '/nowhere' in environment 'prod'" in result.message


def test_a_wrong_environment_is_misconfigured_even_for_another_folder(
        project: Project, make_stores: Any) -> None:
    project.seed("KEY", "v", "/shared")
    stores = make_stores(project.store(configuration={"environment": "production"}))
    result = stores.fetch("inf", ["/shared/KEY"])["/shared/KEY"]
    assert result.status is Status.UNAVAILABLE
    assert result.message.startswith("misconfigured: environment 'production' of project")
    with pytest.raises(TemplateError, match="misconfigured"):
        stores.render_string("{{ secrets.inf.[/shared/KEY] | default('x') }}")


def test_a_folder_read_key_by_key_below_the_threshold_and_listed_from_it(
        project: Project, make_stores: Any) -> None:
    for i in range(6):
        project.seed(f"KEY_{i}", f"v{i}", "/app")
    stores = make_stores(project.store(configuration={"secretPath": "/app"}, cacheTtl=0))
    api = project.api
    before = reads(api)
    assert stores.render_string("{{ secrets.inf.KEY_0 }}{{ secrets.inf.KEY_1 }}") == "v0v1"
    assert reads(api) == (before[0], before[1] + 2)  # 2 keys < 3: one read per key
    before = reads(api)
    with count_fetch_calls(stores.plugins) as calls:
        rendered = stores.render_string(" ".join(f"{{{{ secrets.inf.KEY_{i} }}}}"
                                                 for i in range(6)))
    assert rendered == "v0 v1 v2 v3 v4 v5"
    assert reads(api) == (before[0] + 1, before[1])  # 6 keys: one list call, no single read
    assert len(calls) == 1


def test_keys_a_list_does_not_show_get_their_own_answer(project: Project,
                                                        make_stores: Any) -> None:
    for key in ("A", "B", "C", "HIDDEN"):
        project.seed(key, f"value-{key}")
    project.identity.hidden.add("HIDDEN")  # left out of the list; a read is refused
    stores = make_stores(project.store(cacheTtl=0))
    before = reads(project.api)
    results = stores.fetch("inf", ["A", "B", "C", "HIDDEN", "MISSING"])
    assert {k: r.status for k, r in results.items()} == {
        "A": Status.FOUND, "B": Status.FOUND, "C": Status.FOUND, "HIDDEN": Status.DENIED,
        "MISSING": Status.NOT_FOUND}
    assert results["A"].value == "value-A"
    # one list call, then single reads of the two keys it did not show
    assert reads(project.api) == (before[0] + 1, before[1] + 2)


def test_a_refused_list_falls_back_to_single_reads(project: Project, make_stores: Any) -> None:
    for key in ("A", "B", "C"):
        project.seed(key, key.lower())
    project.identity.deny_read.add("C")  # a listed value it may not read: the list is a 403
    stores = make_stores(project.store(cacheTtl=0))
    before = reads(project.api)
    results = stores.fetch("inf", ["A", "B", "C"])
    assert [results[k].status for k in "ABC"] == [Status.FOUND, Status.FOUND, Status.DENIED]
    assert reads(project.api) == (before[0] + 1, before[1] + 3)


def test_one_list_call_per_folder(project: Project, make_stores: Any) -> None:
    for folder in ("/one", "/two"):
        for i in range(3):
            project.seed(f"K{i}", f"{folder}-{i}", folder)
    project.seed("K0", "/three-0", "/three")
    stores = make_stores(project.store(cacheTtl=0))
    before = reads(project.api)
    wanted = [f"{folder}/K{i}" for folder in ("/one", "/two") for i in range(3)]
    results = stores.fetch("inf", [*wanted, "/three/K0"])
    assert all(results[w].value == w.replace("/K", "-") for w in wanted)
    assert results["/three/K0"].value == "/three-0"
    assert reads(project.api) == (before[0] + 2, before[1] + 1)


def test_list_threshold_zero_never_lists(project: Project, make_stores: Any) -> None:
    for i in range(5):
        project.seed(f"K{i}", "v")
    stores = make_stores(project.store(configuration={"listThreshold": 0}, cacheTtl=0))
    before = reads(project.api)
    stores.fetch("inf", [f"K{i}" for i in range(5)])
    assert reads(project.api) == (before[0], before[1] + 5)


def test_an_invalid_identifier_is_unavailable_not_not_found(project: Project,
                                                            make_stores: Any) -> None:
    stores = make_stores(project.store())
    result = stores.fetch("inf", ["has space"])["has space"]
    assert result.status is Status.UNAVAILABLE
    assert result.message == "invalid identifier: 'has space' is not an Infisical key (no " \
                             "spaces or ':')"


def test_the_sdk_cache_is_off_the_cores_is_the_only_one(project: Project,
                                                        make_stores: Any) -> None:
    """With the SDK's own cache on (its default: 60 s) the second read would be stale."""
    project.seed("ROTATED", "old")
    stores = make_stores(project.store(cacheTtl=0))
    assert stores.get("inf", "ROTATED") == "old"
    project.admin.secrets.update_secret_by_name(
        current_secret_name="ROTATED", secret_path="/", environment_slug="prod",
        project_id=project.id, secret_value="new")
    assert stores.get("inf", "ROTATED") == "new"
    cached = make_stores(project.store())  # the core's cache: one TTL, one invalidation
    assert cached.get("inf", "ROTATED") == "new"
    project.admin.secrets.update_secret_by_name(
        current_secret_name="ROTATED", secret_path="/", environment_slug="prod",
        project_id=project.id, secret_value="newer")
    assert cached.get("inf", "ROTATED") == "new"
    cached.invalidate("inf")
    assert cached.get("inf", "ROTATED") == "newer"
