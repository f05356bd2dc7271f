"""Fixtures: a local Azure (Microsoft Entra ID and Key Vault over HTTPS), principals, stores.

Everything listens on 127.0.0.1 and speaks the real protocols; the real
azure-identity and azure-keyvault-secrets talk to it over sockets, trusting the
test CA through the store's ``caCert`` (or ``REQUESTS_CA_BUNDLE``). Nothing in
the SDKs or the plugin is mocked.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from azkv_world import AzureWorld, Principal

from secretstores.api import SecretStores
from secretstores.testing import one_store_stores

STORE = "az"


@pytest.fixture(autouse=True)
def azure_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Azure setting of the machine running the tests may leak in: no ``AZURE_*``
    variable, no managed identity endpoint, an empty Azure CLI profile directory."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_", "IMDS_")) or name in (
                "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "no-azure-cli"))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureWorld]:
    """The local Azure, for the whole session."""
    azure = AzureWorld(tmp_path_factory.mktemp("azure"))
    yield azure
    azure.close()


@pytest.fixture(autouse=True)
def healed(world: AzureWorld) -> None:
    """No canned failure of an earlier test is left for this one."""
    world.vault.heal()


@pytest.fixture
def reader(world: AzureWorld) -> Principal:
    """A principal with the gateway document's role: Key Vault Secrets User on the vault."""
    principal = world.principal()
    world.vault.grant(principal.object_id, "Key Vault Secrets User")
    return principal


@pytest.fixture
def officer(world: AzureWorld) -> Principal:
    """A principal that may write: Key Vault Secrets Officer on the vault."""
    principal = world.principal()
    world.vault.grant(principal.object_id, "Key Vault Secrets Officer")
    return principal


@pytest.fixture
def admin(world: AzureWorld) -> Any:
    """The administrator's ``SecretClient`` (the real SDK), for seeding and inspecting."""
    return world.admin_client()


@pytest.fixture
def make_stores(tmp_path: Path) -> Iterator[Any]:
    """``make_stores(configuration, **store_options)`` -> SecretStores with one store ``az``.

    Every store made in a test shares one disk cache (like processes of one user).
    """
    with one_store_stores(tmp_path, STORE, "azure_key_vault") as make:
        yield make


@pytest.fixture
def stores(make_stores: Any, world: AzureWorld, reader: Principal) -> SecretStores:
    """A read-only store ``az`` signed in as the reader."""
    return make_stores(world.configuration(reader))  # type: ignore[no-any-return]

