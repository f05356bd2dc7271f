"""The azure_key_vault store passes the core's contract suite against the local Azure."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azkv_https import WebPage
from azkv_world import AzureWorld, Principal

from secretstores.testing import CANARY, StoreContract, StoreHarness


def key_vault_name(identifier: str) -> str:
    """The secret an identifier names: Key Vault names cannot hold '_', which stands for '-'."""
    return identifier.replace("_", "-")


class AzureHarness(StoreHarness):
    """Seeds through the administrator's SecretClient; the store signs in as its own
    principal (Key Vault Secrets Officer, with a deny assignment on one secret)."""

    type = "azure_key_vault"
    writable = True

    def __init__(self, world: AzureWorld) -> None:
        self.world = world
        self.principal: Principal = world.principal()
        world.vault.grant(self.principal.object_id, "Key Vault Secrets Officer")
        self.closing: list[Any] = []

    def definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.world.configuration(self.principal)}

    def seed(self, identifier: str, value: str) -> None:
        self.world.admin_client().set_secret(key_vault_name(identifier), value)

    def denied_identifier(self) -> str:
        name = f"ss_denied_{uuid.uuid4().hex[:8]}"
        self.seed(name, "refused")
        self.world.vault.deny(self.principal.object_id, "get", key_vault_name(name))
        return name

    def expire_credentials(self) -> bool:
        # every token issued to the store's principal so far stops working at the vault
        self.world.directory.revoke(self.principal.client_id)
        return True

    def unresponsive_definition(self, address: str) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.world.configuration(
            self.principal, vaultUrl=f"https://{address}")}

    def fail_next(self, count: int, *, throttle: bool = False) -> bool:
        if throttle:
            self.world.vault.fail_next(count, 429, retry_after="0")
        else:
            self.world.vault.fail_next(count, 503)
        return True

    def misconfigured_definitions(self) -> dict[str, dict[str, Any]]:
        page = WebPage(self.world.ca)
        self.closing.append(page)
        other_tenant = self.world.directory.tenant()
        foreign = self.world.add_vault(tenant=other_tenant, name="ss-foreign-vault")
        return {
            "a web server's 404 page": {"type": self.type, "configuration":
                                        self.world.configuration(self.principal,
                                                                 vaultUrl=page.url)},
            "a vault of another tenant": {"type": self.type, "configuration":
                                          self.world.configuration(self.principal, foreign)},
        }

    def rejected_credentials_definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.world.configuration(
            self.principal, clientSecret=CANARY)}


class TestAzureKeyVault(StoreContract):
    @pytest.fixture
    def harness(self, world: AzureWorld) -> Iterator[StoreHarness]:
        harness = AzureHarness(world)
        yield harness
        for server in harness.closing:
            server.close()
