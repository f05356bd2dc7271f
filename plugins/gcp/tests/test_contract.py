"""The gcp_secret_manager store passes the core's contract suite against the local server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gcptest_env import DISABLED_API, OTHER, Accounts, configuration
from gcptest_server import NOT_FOUND_PAGE, SecretManagerServer

from secretstores.testing import StoreContract, StoreHarness
from secretstores.testing.faults import FaultProxy


class GcpHarness(StoreHarness):
    """Seeds through the official client as an admin; the store reads as a Secret Manager
    admin of main-project (so it may write), through the local server."""

    type = "gcp_secret_manager"
    writable = True

    def __init__(self, server: SecretManagerServer, accounts: Accounts,
                 seed: Callable[..., str]) -> None:
        self.server = server
        self.accounts = accounts
        self._seed = seed
        self.configuration = configuration(server, accounts.writer)
        self.closing: list[FaultProxy] = []

    def definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration}

    def seed(self, identifier: str, value: str) -> None:
        self._seed(identifier, value)

    def denied_identifier(self) -> str | None:
        # A secret of another project, where the store's account has no role.
        import uuid

        return self._seed(f"denied_{uuid.uuid4().hex[:8]}", "refused", project=OTHER)

    def expire_credentials(self) -> bool:
        self.server.revoke_tokens()  # as when the key is disabled and re-enabled
        return True

    def unresponsive_definition(self, address: str) -> dict[str, Any]:
        return {"type": self.type,
                "configuration": dict(self.configuration, endpoint=f"http://{address}")}

    def fail_next(self, count: int, *, throttle: bool = False) -> bool:
        if throttle:
            self.server.fail_next(count, "RESOURCE_EXHAUSTED", retry_delay=0.05)
        else:
            self.server.fail_next(count, "UNAVAILABLE")
        return True

    def misconfigured_definitions(self) -> dict[str, dict[str, Any]]:
        page = FaultProxy(self.server.url)  # a web server's 404 page, not the API
        page.always(status=404, body=NOT_FOUND_PAGE,
                    headers={"Content-Type": "text/html; charset=UTF-8"})
        self.closing.append(page)
        return {
            "an endpoint that is a web server's 404 page": self.definition() | {
                "configuration": dict(self.configuration, endpoint=page.url)},
            "a project that does not exist": self.definition() | {
                "configuration": dict(self.configuration, projectId="no-such-project")},
            "a project without the Secret Manager API": self.definition() | {
                "configuration": dict(self.configuration, projectId=DISABLED_API)},
        }

    def rejected_credentials_definition(self) -> dict[str, Any]:
        # A key the account never had (or deleted): Google refuses its signature.
        key = self.server.new_service_account(self.accounts.writer["client_email"], "x",
                                              register=False)
        return {"type": self.type, "configuration": configuration(self.server, key)}


class TestGcpStore(StoreContract):
    @pytest.fixture
    def harness(self, server: SecretManagerServer, accounts: Accounts,
                seed: Callable[..., str]) -> Iterator[StoreHarness]:
        harness = GcpHarness(server, accounts, seed)
        yield harness
        for proxy in harness.closing:
            proxy.close()
