"""Both auth modes against the local Infisical API: static access token and universal auth."""

from __future__ import annotations

import time
from typing import Any

import pytest
from infisical_api import LIST, LOGIN, InfisicalApi
from infisical_fixtures import Project

from secretstores import AccessDeniedError, AuthenticationError, Status, StoreError


def test_access_token_reads_without_logging_in(project: Project, make_stores: Any) -> None:
    project.seed("OPENAI_KEY", "sk-from-token")
    stores = make_stores(project.store())
    logins = project.api.requests[LOGIN]
    assert stores.get("inf", "OPENAI_KEY") == "sk-from-token"
    assert project.api.requests[LOGIN] == logins  # the token is used as it is
    assert stores.runtime("inf").session().expires_at is None  # nothing to renew
    note = stores.check("inf")
    assert f"access token (identityId:{project.identity.id}) accepted" in note
    assert "folder '/' of environment 'prod' exists" in note


def test_universal_auth_logs_in_once_for_many_reads(project: Project, make_stores: Any) -> None:
    for i in range(3):
        project.seed(f"KEY_{i}", f"value-{i}")
    stores = make_stores(project.store(universal=True, cacheTtl=0))
    for i in range(3):
        assert stores.get("inf", f"KEY_{i}") == f"value-{i}"
    assert stores.render_string("{{ secrets.inf.KEY_0 }}{{ secrets.inf.KEY_2 }}") == \
        "value-0value-2"
    assert project.api.logins[project.client_id] == 1
    session = stores.runtime("inf").session()
    assert session.expires_at is not None and session.expires_at > time.time()
    assert f"machine identity (client ID '{project.client_id}') accepted" in stores.check("inf")


def test_universal_auth_token_is_renewed_before_it_expires(api: InfisicalApi,
                                                           make_stores: Any) -> None:
    project = Project.create(api, ttl=4)  # the server issues tokens living 4 s
    project.seed("RENEWED", "still-readable")
    stores = make_stores(project.store(universal=True, cacheTtl=0))
    runtime = stores.runtime("inf")
    assert stores.get("inf", "RENEWED") == "still-readable"
    first = runtime.session()
    assert first.expires_at is not None and 0 < first.renew_before <= 4 / 3
    refused_before = api.refused[(403, "TokenError")]
    deadline = time.monotonic() + 30
    while api.logins[project.client_id] < 2 and time.monotonic() < deadline:
        assert stores.get("inf", "RENEWED") == "still-readable"
        time.sleep(0.05)
    assert api.logins[project.client_id] == 2, "the token was never renewed"
    second = runtime.session()
    assert second is not first and second.expires_at > first.expires_at
    # renewed before it expired: no read ever reached Infisical with an expired token
    assert api.refused[(403, "TokenError")] == refused_before


def test_wrong_client_secret_is_an_authentication_error(project: Project,
                                                         make_stores: Any) -> None:
    stores = make_stores(project.store(universal=True, configuration={
        "clientSecret": "not-the-secret"}))
    with pytest.raises(AuthenticationError) as info:
        stores.check("inf")
    message = str(info.value)
    assert f"universal auth login with client ID '{project.client_id}' was refused" in message
    assert "HTTP 401 UnauthorizedError: Invalid credentials" in message
    result = stores.fetch("inf", ["ANY"])["ANY"]
    assert result.status is Status.UNAVAILABLE and "Invalid credentials" in result.message


def test_unknown_client_id_is_an_authentication_error(project: Project,
                                                      make_stores: Any) -> None:
    stores = make_stores(project.store(universal=True, configuration={"clientId": "nobody"}))
    with pytest.raises(AuthenticationError, match="client ID 'nobody' was refused"):
        stores.check("inf")


@pytest.mark.parametrize("token", [
    "not-a-jwt",
    "eyJhbGciOiJIUzI1NiJ9.eyJpZGVudGl0eUlkIjoieCJ9.c2lnbmVkLWVsc2V3aGVyZQ",
])
def test_a_token_infisical_refuses_fails_reads_and_the_check(project: Project,
                                                             make_stores: Any,
                                                             token: str) -> None:
    project.seed("KEY", "v")
    stores = make_stores(project.store(configuration={"accessToken": token}))
    with pytest.raises(AuthenticationError, match="unauthorized even after authenticating again"):
        stores.check("inf")
    result = stores.fetch("inf", ["KEY"])["KEY"]
    assert result.status is Status.UNAVAILABLE  # never "not found": `default` cannot hide it
    assert "TokenError" in result.message


def test_a_revoked_access_token_is_unauthorized_not_not_found(project: Project,
                                                              make_stores: Any) -> None:
    project.seed("KEY", "v")
    stores = make_stores(project.store(cacheTtl=0))
    assert stores.get("inf", "KEY") == "v"
    project.api.revoke_tokens(project.identity)
    result = stores.fetch("inf", ["KEY"])["KEY"]
    assert result.status is Status.UNAVAILABLE
    assert "HTTP 401 UnauthorizedError" in result.message


def test_a_revoked_universal_auth_token_is_replaced(project: Project, make_stores: Any) -> None:
    project.seed("KEY", "v")
    stores = make_stores(project.store(universal=True, cacheTtl=0))
    assert stores.get("inf", "KEY") == "v"
    project.api.revoke_tokens(project.identity)
    assert stores.get("inf", "KEY") == "v"
    assert project.api.logins[project.client_id] == 2


def test_an_identity_outside_the_project_is_denied(api: InfisicalApi, project: Project,
                                                   make_stores: Any) -> None:
    project.seed("KEY", "v")
    stranger = api.add_identity()  # a member of no project
    stores = make_stores(project.store(configuration={"accessToken": api.issue_token(stranger)}))
    result = stores.fetch("inf", ["KEY"])["KEY"]
    assert result.status is Status.DENIED and "not a member of this project" in result.message
    with pytest.raises(AccessDeniedError, match="ProjectMembershipNotFound"):
        stores.check("inf")
    lists = api.requests[LIST]
    with pytest.raises(StoreError, match="ProjectMembershipNotFound"):
        stores.list_names("inf")
    assert api.requests[LIST] == lists + 1
