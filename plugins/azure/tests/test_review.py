"""Review findings: each test failed before its fix."""

from __future__ import annotations

import threading
from typing import Any

from azkv_entra import _Handler
from azkv_https import HttpsServer
from azkv_world import AzureWorld, Principal, unique


class _FlakyEntra:
    """A second sign-in endpoint of the world's directory whose next token requests
    answer 503 (Microsoft Entra ID having a bad moment), then work."""

    def __init__(self, world: AzureWorld, failures: int) -> None:
        self.directory = world.directory
        self.failures = failures
        self.lock = threading.Lock()
        self._server = HttpsServer(self, _FlakyHandler, world.ca)
        self.url = self._server.url

    def close(self) -> None:
        self._server.close()


class _FlakyHandler(_Handler):
    def do_POST(self) -> None:
        entra: _FlakyEntra = self.app
        with entra.lock:
            fail = entra.failures > 0
            entra.failures -= fail
        if fail:
            self.read_body()
            self.answer(503, {"error": "temporarily_unavailable",
                              "error_description": "AADSTS90033: A transient error has "
                                                   "occurred. Please try again."})
            return
        super().do_POST()


def test_a_503_from_the_sign_in_endpoint_is_transient(make_stores: Any, world: AzureWorld,
                                                       reader: Principal, admin: Any) -> None:
    """Entra ID answering 503 once is a failure worth another try: the core retries the
    login at once, and the read succeeds, instead of a refused sign-in (AuthenticationError)
    failing every reference of the store for the login back-off window."""
    name = unique("flaky")
    admin.set_secret(name, "after-503")
    entra = _FlakyEntra(world, failures=1)
    try:
        stores = make_stores(world.configuration(reader, authorityHost=entra.url))
        assert stores.get("az", name) == "after-503"
    finally:
        entra.close()


def test_a_write_retried_after_its_answer_was_lost_adds_one_version(
        make_stores: Any, world: AzureWorld, officer: Principal, admin: Any) -> None:
    """Key Vault has no idempotency token; the core retries a write with the same
    ``request_id``. A retry whose first attempt went through (only its answer was lost)
    must not add a second version holding the same value."""
    writer = make_stores(world.configuration(officer), readOnly=False)
    name = unique("lost-answer")
    writer.put("az", name, "first")
    world.vault.lose_next_answer(1)
    writer.put("az", name, "second")
    assert [admin.get_secret(name, p.version).value for p in sorted(
        admin.list_properties_of_secret_versions(name), key=lambda p: p.created_on)] == [
        "first", "second"]
    assert writer.get("az", name) == "second"
