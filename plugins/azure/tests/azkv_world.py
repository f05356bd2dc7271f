"""A small Azure for the tests: a CA, Microsoft Entra ID with a tenant, and vaults.

:class:`AzureWorld` starts the local sign-in endpoint and an RBAC vault, registers
an administrator (Key Vault Administrator, who seeds secrets through the real
SDK) and makes principals on demand. :meth:`AzureWorld.configuration` gives a
store configuration in the gateway document's shape, plus the fields a local
endpoint needs (``authorityHost``, ``caCert``, ``verifyChallengeResource``,
``disableInstanceDiscovery``).

Run as a program, it serves a world until stdin closes and prints its
coordinates as one JSON line (the benchmarks run it in a process of its own).
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from azkv_entra import App, Directory, EntraId
from azkv_https import TestCa
from azkv_vault import KeyVault


@attrs.define
class Principal:
    """An app registration and its client secret (what a store configuration names)."""

    tenant: str
    app: App
    secret: str

    @property
    def client_id(self) -> str:
        """The application (client) ID."""
        return self.app.client_id

    @property
    def object_id(self) -> str:
        """The service principal's object ID (what role assignments name)."""
        return self.app.object_id


class AzureWorld:
    """The CA, the directory and its sign-in endpoint, one tenant and its RBAC vault."""

    def __init__(self, directory: Path) -> None:
        self.ca = TestCa(directory)
        self.directory = Directory()
        self.entra = EntraId(self.directory, self.ca)
        self.tenant = self.directory.tenant()
        self.vault = KeyVault(self.directory, self.entra.url, self.tenant, self.ca)
        self.admin = self.principal()
        self.vault.grant(self.admin.object_id, "Key Vault Administrator")
        self._closing: list[Any] = [self.vault, self.entra]
        self._admin_client: Any = None

    def principal(self, tenant: str | None = None, secret: str | None = None) -> Principal:
        """A new app registration with a client secret (no role yet)."""
        tenant = tenant or self.tenant
        secret = secret or f"cs~{secrets.token_urlsafe(24)}"
        return Principal(tenant, self.directory.app(tenant, secret=secret), secret)

    def add_vault(self, *, tenant: str | None = None, rbac: bool = True,
                  name: str = "ss-other-vault") -> KeyVault:
        """Another vault (of ``tenant``), closed with the world."""
        vault = KeyVault(self.directory, self.entra.url, tenant or self.tenant, self.ca,
                         rbac=rbac, name=name)
        self._closing.append(vault)
        return vault

    def local_fields(self) -> dict[str, Any]:
        """What a store needs to sign in at the local endpoint and trust its certificate."""
        return {"authorityHost": self.entra.url, "caCert": str(self.ca.ca_path),
                "verifyChallengeResource": False, "disableInstanceDiscovery": True}

    def configuration(self, principal: Principal, vault: KeyVault | None = None,
                      **changes: Any) -> dict[str, Any]:
        """A store configuration: the document's four fields and the local ones."""
        return {"vaultUrl": (vault or self.vault).url, "tenantId": principal.tenant,
                "clientId": principal.client_id, "clientSecret": principal.secret,
                **self.local_fields(), **changes}

    def sdk_client(self, principal: Principal, vault: KeyVault | None = None) -> Any:
        """A ``SecretClient`` of the real SDK signed in as ``principal``."""
        from azure.identity import ClientSecretCredential
        from azure.keyvault.secrets import SecretClient

        credential = ClientSecretCredential(
            principal.tenant, principal.client_id, principal.secret,
            authority=self.entra.url, disable_instance_discovery=True,
            connection_verify=str(self.ca.ca_path))
        return SecretClient((vault or self.vault).url, credential,
                            verify_challenge_resource=False,
                            connection_verify=str(self.ca.ca_path))

    def admin_client(self) -> Any:
        """The administrator's ``SecretClient`` (seeding, disabling, inspecting)."""
        if self._admin_client is None:
            self._admin_client = self.sdk_client(self.admin)
        return self._admin_client

    def close(self) -> None:
        """Stop every server."""
        if self._admin_client is not None:
            self._admin_client.close()
        for server in self._closing:
            server.close()


def unique(prefix: str = "t") -> str:
    """A fresh Key Vault secret name."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _serve() -> None:
    with tempfile.TemporaryDirectory() as home:
        world = AzureWorld(Path(home))
        reader = world.principal()
        world.vault.grant(reader.object_id, "Key Vault Secrets User")
        print(json.dumps({"vault": world.vault.url, "entra": world.entra.url,
                          "ca": str(world.ca.ca_path), "tenant": world.tenant,
                          "admin": [world.admin.client_id, world.admin.secret],
                          "reader": [reader.client_id, reader.secret]}), flush=True)
        sys.stdin.read()  # until the parent closes our stdin
        world.close()


if __name__ == "__main__":
    _serve()
