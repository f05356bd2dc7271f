"""Throttling and transient failures: retried by the core alone, honouring Retry-After.

The store's clients are built with ``retry_total=0``: azure-core's retry policy
sends every request once, so each failure the vault answers reaches the plugin,
which reports it to the core, which decides whether and when to try again.
"""

from __future__ import annotations

from typing import Any

from azkv_world import AzureWorld, Principal, unique

from secretstores import Status
from secretstores.testing import record_events
from secretstores_azure.errors import retry_after

STORE = "az"


def test_429_retry_after_is_honoured_by_the_cores_retry(
        make_stores: Any, world: AzureWorld, reader: Principal, admin: Any) -> None:
    name = unique("throttled")
    admin.set_secret(name, "after-the-wait")
    stores = make_stores(world.configuration(reader), retries=3, deadline=20)
    stores.check(STORE)  # signed in: the 429 hits the read
    world.vault.fail_next(1, 429, retry_after="1")
    with record_events(stores.plugins) as recorder:
        assert stores.get(STORE, name) == "after-the-wait"
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.retries == 1  # the core retried once ...
    throttled, answered = world.vault.seen("GET", f"/secrets/{name}")
    assert (throttled.status, answered.status) == (429, 200)  # ... and the SDK never did


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
        make_stores: Any, world: AzureWorld, reader: Principal, admin: Any) -> None:
    """The server's delay reaches the core's retry decision: the core waits at least the
    Retry-After, so one that ends past the deadline is not retried at all (without it, the
    core's own backoff would retry within 0.1 s and the vault would see a second GET)."""
    name = unique("slow-down")
    admin.set_secret(name, "never-seen")
    stores = make_stores(world.configuration(reader), retries=3, deadline=3)
    stores.check(STORE)
    world.vault.fail_next(1, 429, retry_after="120")
    result = stores.fetch(STORE, [name])[name]
    assert result.status is Status.UNAVAILABLE and "throttling" in result.message
    assert [r.status for r in world.vault.seen("GET", f"/secrets/{name}")] == [429]


def test_the_sdk_sends_each_request_once(make_stores: Any, world: AzureWorld,
                                         reader: Principal, admin: Any) -> None:
    """With the store's retries at 0, a 503 is one request: azure-core retried nothing."""
    name = unique("once")
    admin.set_secret(name, "v")
    stores = make_stores(world.configuration(reader), retries=0)
    stores.check(STORE)
    world.vault.fail_next(1, 503)
    result = stores.fetch(STORE, [name])[name]
    assert result.status is Status.UNAVAILABLE and "HTTP 503" in result.message
    assert [r.status for r in world.vault.seen("GET", f"/secrets/{name}")] == [503]


def test_transient_failures_during_sign_in_are_retried(
        make_stores: Any, world: AzureWorld, reader: Principal, admin: Any) -> None:
    name = unique("login-retry")
    admin.set_secret(name, "signed-in")
    stores = make_stores(world.configuration(reader), retries=3)
    world.vault.fail_next(2, 503)  # the sign-in's first requests
    assert stores.get(STORE, name) == "signed-in"
    assert stores.runtime(STORE).sessions.attempts == 1


def test_retry_after_headers() -> None:
    """Key Vault's Retry-After (seconds), the millisecond variants, and an HTTP date."""
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"x-ms-retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert retry_after({"Retry-After": "soon"}) is None and retry_after({}) is None
