"""Retries belong to the core: 429 and 5xx are retried there, and the SDK never retries."""

from __future__ import annotations

import json
from typing import Any

from infisical_api import GET, RATE_LIMITED
from infisical_fixtures import Project

from secretstores import Status
from secretstores.testing import record_events
from secretstores.testing.faults import BlackHole, FaultProxy

THROTTLED = {"Retry-After": "0", "Content-Type": "application/json; charset=utf-8"}


def test_429_is_transient_and_retried_by_the_core(project: Project, make_stores: Any) -> None:
    project.seed("KEY", "after-429")
    front = FaultProxy(project.api.url)
    stores = make_stores(project.store(configuration={"siteUrl": front.url}))
    stores.check("inf")
    front.fail_next(1, status=429, headers=THROTTLED, body=RATE_LIMITED)
    gets, seen = project.api.requests[GET], front.requests
    with record_events(stores.plugins) as recorder:
        assert stores.get("inf", "KEY") == "after-429"
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.retries == 1
    # two requests: the throttled one and the core's retry, which reached Infisical
    assert (front.requests - seen, project.api.requests[GET] - gets) == (2, 1)
    front.close()


def test_the_sdk_does_not_retry_429_on_top_of_the_core(project: Project,
                                                       make_stores: Any) -> None:
    project.seed("KEY", "v")
    front = FaultProxy(project.api.url)
    stores = make_stores(project.store(configuration={"siteUrl": front.url}, retries=0))
    front.fail_next(1, status=429, headers={**THROTTLED, "Retry-After": "7"}, body=RATE_LIMITED)
    result = stores.fetch("inf", ["KEY"])["KEY"]
    assert result.status is Status.UNAVAILABLE
    assert "Infisical answered 429 (rate limit exceeded)" in result.message
    assert front.requests == 1  # one request: nobody retried it
    front.close()


def test_a_login_that_is_throttled_is_retried(project: Project, make_stores: Any) -> None:
    project.seed("KEY", "v")
    front = FaultProxy(project.api.url)
    stores = make_stores(project.store(universal=True, configuration={"siteUrl": front.url}))
    front.fail_next(1, status=429, headers=THROTTLED, body=RATE_LIMITED)
    assert stores.get("inf", "KEY") == "v"
    assert project.api.logins[project.client_id] == 1
    assert front.requests == 3  # the throttled login, the login, the read
    front.close()


def test_the_sdk_does_not_retry_network_errors(project: Project, make_stores: Any) -> None:
    """The SDK retries timeouts and refused connections four times, sleeping 1 to 8 s;
    the plugin's transport turns them into the core's TransientError before it can."""
    with BlackHole() as hole:
        stores = make_stores(project.store(configuration={"siteUrl": hole.url}, retries=0,
                                           timeout=0.3, deadline=20))
        result = stores.fetch("inf", ["KEY"])["KEY"]
        accepted = hole.accepted
    assert result.status is Status.UNAVAILABLE
    # the transport's error, not the core's deadline: the one attempt ended by itself
    assert f"cannot reach Infisical at {hole.url}: timed out (ReadTimeout)" in result.message
    assert accepted == 1


def test_503_twice_then_the_value(project: Project, make_stores: Any) -> None:
    project.seed("KEY", "after-503")
    front = FaultProxy(project.api.url)
    stores = make_stores(project.store(configuration={"siteUrl": front.url}))
    front.fail_next(2, status=503, body=json.dumps({"message": "unavailable"}).encode())
    with record_events(stores.plugins) as recorder:
        assert stores.get("inf", "KEY") == "after-503"
    assert [e.retries for e in recorder.events if e.operation == "fetch"] == [2]
    front.close()
