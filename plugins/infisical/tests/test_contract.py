"""The ``infisical`` store passes the core's contract suite against the local Infisical API,
once with a static access token (the gateway document's shape) and once with universal auth."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from infisical_api import RATE_LIMITED, InfisicalApi
from infisical_fixtures import Project

from secretstores.testing import CANARY, StoreContract, StoreHarness
from secretstores.testing.faults import FaultProxy


class InfisicalHarness(StoreHarness):
    """Secrets in folder ``/apps/gateway`` of ``prod`` in a fresh project, seeded through the
    SDK. The store reaches the server through a fault proxy (503s and 429s on demand)."""

    type = "infisical"
    writable = True
    folder = "/apps/gateway"

    def __init__(self, project: Project, *, universal: bool) -> None:
        self.project = project
        self.universal = universal
        project.folder(self.folder)
        self.front = FaultProxy(project.api.url)
        self.servers = [self.front]

    def configuration(self, **changes: Any) -> dict[str, Any]:
        settings = {"siteUrl": self.front.url, "secretPath": self.folder, **changes}
        return self.project.configuration(universal=self.universal, **settings)

    def definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration()}

    def seed(self, identifier: str, value: str) -> None:
        self.project.seed(identifier, value, self.folder)

    def denied_identifier(self) -> str:
        self.seed("ss_denied_secret", "refused")
        self.project.identity.deny_read.add("ss_denied_secret")
        return "ss_denied_secret"

    def expire_credentials(self) -> bool:
        if not self.universal:
            return False  # a static access token cannot be obtained again
        self.project.api.revoke_tokens(self.project.identity)
        return True

    def unresponsive_definition(self, address: str) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration(
            siteUrl=f"http://{address}")}

    def fail_next(self, count: int, *, throttle: bool = False) -> bool:
        if throttle:
            self.front.fail_next(count, status=429, body=RATE_LIMITED, headers={
                "Retry-After": "0", "Content-Type": "application/json; charset=utf-8",
                "x-ratelimit-limit": "600", "x-ratelimit-remaining": "0"})
        else:  # a load balancer with no healthy Infisical behind it
            self.front.fail_next(count, status=503, body=b"no healthy upstream",
                                 headers={"Content-Type": "text/plain"})
        return True

    def misconfigured_definitions(self) -> dict[str, dict[str, Any]]:
        page = FaultProxy(self.project.api.url)
        page.always(status=404, body=b"<html><body>404 Not Found</body></html>",
                    headers={"Content-Type": "text/html"})
        self.servers.append(page)
        return {
            "a project that does not exist": self.definition_with(projectId=str(uuid.uuid4())),
            "an environment that does not exist": self.definition_with(environment="prdo"),
            "a secretPath that does not exist": self.definition_with(secretPath="/apps/gatewya"),
            "a siteUrl that is not Infisical": self.definition_with(siteUrl=page.url),
        }

    def definition_with(self, **changes: Any) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration(**changes)}

    def rejected_credentials_definition(self) -> dict[str, Any]:
        if self.universal:
            return self.definition_with(clientSecret=CANARY)
        return self.definition_with(accessToken=CANARY)

    def close(self) -> None:
        for server in self.servers:
            server.close()


class TestAccessToken(StoreContract):
    """``siteUrl``, ``accessToken``, ``projectId``, ``environment``, ``secretPath``."""

    @pytest.fixture
    def harness(self, api: InfisicalApi) -> Iterator[StoreHarness]:
        harness = InfisicalHarness(Project.create(api), universal=False)
        yield harness
        harness.close()


class TestUniversalAuth(StoreContract):
    """``clientId`` and ``clientSecret`` instead of ``accessToken``: logins, re-logins."""

    @pytest.fixture
    def harness(self, api: InfisicalApi) -> Iterator[StoreHarness]:
        harness = InfisicalHarness(Project.create(api), universal=True)
        yield harness
        harness.close()
